"""E-mail: Jinja2 templates (plain text and HTML, Ukrainian), RFC 8058 one-click unsubscribe headers,
a deterministic Message-ID so a receiving server can drop the rare duplicate, and an SMTP sender
that reuses its connection and keeps to a rate."""
from __future__ import annotations

import smtplib
import ssl
import time
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                        autoescape=select_autoescape(["html"]), keep_trailing_newline=True)


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
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    ctx = {**context, "full_name": to_name, "unsubscribe_url": unsubscribe_url}
    msg.set_content(TEMPLATES.get_template(f"{template}.txt.j2").render(ctx))
    msg.add_alternative(TEMPLATES.get_template(f"{template}.html.j2").render(ctx), subtype="html")
    return msg


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
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()
        try:
            self._connect().send_message(msg)
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
