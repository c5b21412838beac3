"""E-mail: Jinja2 templates (plain text and HTML, Ukrainian), RFC 8058 one-click unsubscribe headers,
a deterministic Message-ID so a receiving server can drop the rare duplicate, and an SMTP sender
that reuses its connection and keeps to a rate.

A fan-out sends one text to many people: :class:`Prepared` renders and flattens it once and puts
each recipient's name, address, Message-ID and unsubscribe link into the bytes; :func:`compose`
builds one message the ordinary way (and is what :class:`Prepared` falls back to when a part
cannot be sent as 8-bit text)."""
from __future__ import annotations

import re
import smtplib
import ssl
import time
from base64 import b64encode
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import escape

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                        autoescape=select_autoescape(["html.j2"]), keep_trailing_newline=True)


# Lines up to RFC 5322's hard limit of 998: a long List-Unsubscribe URL must stay a plain <URL>, not
# be folded into RFC 2047 encoded words that mail clients do not read as a link (RFC 8058).
POLICY = policy.SMTP.clone(max_line_length=998)


class TemporaryFailure(Exception):
    """SMTP 4xx or a dropped connection: try again later."""


class PermanentFailure(Exception):
    """SMTP 5xx: do not try again."""


def message_id(delivery_id: int, consultation_id: str) -> str:
    return f"<delivery-{delivery_id}.{consultation_id}@econsult>"


def compose(sender: str, to_name: str, to_email: str, subject: str, template: str, context: dict,
            msg_id: str, unsubscribe_url: str) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    msg["To"] = formataddr((to_name, to_email))
    msg["Subject"] = subject
    msg["Message-ID"] = msg_id or make_msgid()
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    _body(msg, template, {**context, "full_name": to_name, "unsubscribe_url": unsubscribe_url})
    return msg


def _body(msg: EmailMessage, template: str, ctx: dict, html_ctx: dict | None = None) -> None:
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(TEMPLATES.get_template(f"{template}.txt.j2").render(ctx))
    msg.add_alternative(TEMPLATES.get_template(f"{template}.html.j2").render(html_ctx or ctx), subtype="html")


# Where a recipient's own values go in a prepared message: private-use characters, so the parts are
# rendered as 8-bit text exactly as with a real (Cyrillic) name, and found again in the bytes.
_NAME, _URL, _HTML_NAME, _HTML_URL = "\ue000n\ue000", "\ue000u\ue000", "\ue000N\ue000", "\ue000U\ue000"
_SLOTS = re.compile("|".join(map(re.escape, (_NAME, _URL, _HTML_NAME, _HTML_URL))).encode())
_LONGEST_VALUE = 400  # bytes of a name or link: a longer one is composed the ordinary way (998-byte lines)


class Prepared:
    """One message for many recipients: the templates rendered and the MIME structure flattened once;
    :meth:`build` gives the bytes for one recipient, equal in content to :func:`compose`'s."""

    def __init__(self, sender: str, subject: str, template: str, context: dict):
        self.sender, self.subject, self.template, self.context = sender, subject, template, context
        self.envelope_from = parseaddr(sender)[1]
        msg = EmailMessage(policy=POLICY)
        msg["From"] = sender
        msg["Subject"] = subject
        _body(msg, template, {**context, "full_name": _NAME, "unsubscribe_url": _URL},
              {**context, "full_name": _HTML_NAME, "unsubscribe_url": _HTML_URL})
        as_text = all(part["Content-Transfer-Encoding"] in ("7bit", "8bit") for part in msg.iter_parts())
        raw = msg.as_bytes()
        pieces = _SLOTS.split(raw)
        self._pieces = pieces if as_text else None  # None: compose each one
        self._slots = [m.decode() for m in _SLOTS.findall(raw)]

    def build(self, to_name: str, to_email: str, msg_id: str, unsubscribe_url: str) -> bytes:
        """The message for one recipient; ValueError when it cannot be built (a line break in a
        header)."""
        if "\r" in to_name or "\n" in to_name or "\r" in to_email or "\n" in to_email:
            raise ValueError("a line break in an address header")
        if self._pieces is None or not to_email.isascii() or len(to_name.encode()) > _LONGEST_VALUE \
                or len(unsubscribe_url) > _LONGEST_VALUE:
            return compose(self.sender, to_name, to_email, self.subject, self.template, self.context, msg_id,
                           unsubscribe_url).as_bytes()
        values = {_NAME: to_name.encode(), _URL: unsubscribe_url.encode(),
                  _HTML_NAME: str(escape(to_name)).encode(), _HTML_URL: str(escape(unsubscribe_url)).encode()}
        pieces = self._pieces
        out = [f"To: {address_header(to_name, to_email)}\r\nMessage-ID: {msg_id}\r\n"
               f"List-Unsubscribe: <{unsubscribe_url}>\r\n".encode(), pieces[0]]
        for slot, piece in zip(self._slots, pieces[1:]):
            out += (values[slot], piece)
        return b"".join(out)


def address_header(name: str, email: str) -> str:
    """``name <email>`` for a header, a non-ASCII name as one RFC 2047 encoded word (as the
    ``email`` package writes it)."""
    if name.isascii():
        return formataddr((name, email))
    return f"=?utf-8?b?{b64encode(name.encode()).decode()}?= <{email}>"


class SmtpSender:
    def __init__(self, host: str, port: int, tls: str = "none", user: str = "", password: str = "",
                 rate_per_second: float = 50.0, timeout: float = 15.0):
        self.host, self.port, self.tls, self.user, self.password = host, port, tls, user, password
        self.interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None
        self._last = 0.0

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is None:
            if self.tls == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password)
            self._smtp = smtp
        return self._smtp

    def send(self, msg: EmailMessage) -> None:
        self._pace()
        self._guarded(lambda: self._connect().send_message(msg))

    def send_raw(self, from_addr: str, to_addr: str, data: bytes) -> None:
        """Send a message already flattened (CRLF line ends) to one recipient."""
        self._pace()
        self._guarded(lambda: self._connect().sendmail(from_addr, [to_addr], data))

    def _pace(self) -> None:
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()

    def _guarded(self, send) -> None:
        try:
            send()
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            self.close() if code < 500 else None
            raise (PermanentFailure if code >= 500 else TemporaryFailure)(f"{code} recipient refused") from None
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from None
            self.close()
            raise TemporaryFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except Exception:
                smtp.close()
