"""The notifications service's work behind its entry points: the start-day fan-out (select every
recipient, then the senders' claim/send loop with its SMTP failure handling), the cabinet inbox,
each event handled once. The rules it applies are in ``rules.py``, the SQL in ``store.py``."""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import eventlet
from itsdangerous import BadSignature, URLSafeSerializer

from chassis import metrics
from chassis.consumer import handler_key
from chassis.errors import Conflict, InvalidInput
from chassis.errors import parse_uuid
from chassis.faults import fault_point
from contracts.notifications import ConsultationFeedback, Inbox, Progress
from contracts.registry import InterestedPage, MailContact
from contracts.reports import ContributionPage
from services.notifications import mailer, rules, store

log = logging.getLogger(__name__)
SELECT_BATCH = 1000
DRAIN_SECONDS = 10.0  # a sender claims no new batch after this; the timer starts it again a second later


def unsubscribe_serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="econsult-unsubscribe")


# ---- the start-day fan-out: selection ----------------------------------------------------------------

def select_recipients(uow, interested_persons: Callable[..., InterestedPage], env, data, digest_send_hour: int, tz) -> int | None:
    """Select every recipient first (idempotent inserts, batch by batch), then let the senders go.
    The event counts as handled only at the end, so a crash mid-selection selects again. None when
    the event was handled before."""
    # not once_per_event: the selection spans one transaction per page of recipients, and the event
    # is claimed only in the last of them, after every page is in (so a crash in between selects
    # again); the key is the one the decorator would derive for this handler
    handler = handler_key("notifications", "on_consultation_published")
    with uow.transaction() as tx:
        if tx.event_seen(handler, env.event_id):
            return None
        tx.start_fanout(data)
    after, total = None, 0
    send_at = rules.digest_send_at(data.starts_on, digest_send_hour, tz)
    while True:
        page = interested_persons(data.category, after, SELECT_BATCH)
        digest, at_once = rules.split_by_mode(page.items)
        with uow.transaction() as tx:
            late = tx.add_digest_recipients(data.consultation_id, data.starts_on, digest, send_at)
            total += len(digest) - len(late) + tx.add_recipients(data.consultation_id, at_once + late)
        after = page.next_after
        if not after:
            break
    with uow.transaction() as tx:
        tx.selected(data.consultation_id)
        if data.initiator_id:  # the initiator learns in the cabinet that it started
            tx.notify(data.initiator_id, env.event_id,
                      *rules.started_message(data.title, data.starts_on, data.ends_on), data.url)
        tx.claim_event(handler, env.event_id)
    return total


# ---- "you said, we did" at report publication: selection (R-3.16, R-3.18) --------------------------

FEEDBACK_BATCH = 1000  # authors a page


def select_feedback(uow, contributions: Callable[..., ContributionPage], env, data, public_url: str) -> int | None:
    """A report version is published: page through its contributors (asked of the reports service),
    and give each person it changed something for one message (cabinet and e-mail), a page per
    transaction; the event is claimed only after the last page, so a crash selects again and finds
    the pages already done unchanged. None when the event was handled before."""
    handler = handler_key("notifications", "on_report_published")
    with uow.transaction() as tx:
        if tx.event_seen(handler, env.event_id):
            return None
    after, total = None, 0
    while True:
        page = contributions(data.consultation_id, after, FEEDBACK_BATCH)
        with uow.transaction() as tx:
            total += tx.add_feedback(env.event_id, page, public_url)
        after = page.next_after
        if after is None:
            break
    with uow.transaction() as tx:
        tx.claim_event(handler, env.event_id)
    return total


def feedback(uow, person_id: uuid.UUID, consultation_id: uuid.UUID | None = None) -> list[ConsultationFeedback]:
    with uow.transaction() as tx:
        return tx.feedback(person_id, consultation_id)


# ---- the start-day fan-out: sending ------------------------------------------------------------------

def send_due(uow, mail_contacts: Callable[[list[uuid.UUID]], dict[str, MailContact]], settings, categories: dict[int, str]) -> int:
    """Run SMTP_CONCURRENCY senders until nothing is due (or DRAIN_SECONDS pass), then complete the
    fan-outs with nothing left to send."""
    deliveries = store.Deliveries(uow)
    signer = unsubscribe_serializer(settings.secret_key)

    def drain(_) -> int:
        smtp = mailer.SmtpSender(settings.smtp_host, settings.smtp_port, settings.smtp_tls, settings.smtp_user,
                                 settings.smtp_password, settings.smtp_rate_per_second)
        return Sender(deliveries, mail_contacts, smtp, settings, categories, signer).drain()

    # idle ticks (most of them) cost one transaction: no sender claims when nothing is due or stuck
    with uow.transaction() as tx:
        due = tx.anything_to_send(timedelta(seconds=settings.delivery_stuck_seconds))
        finished = [] if due else tx.complete_finished()
    sent = 0
    if due:
        n = max(1, settings.smtp_concurrency)
        sent = sum(eventlet.GreenPool(n).imap(drain, range(n)))
        with uow.transaction() as tx:
            finished = tx.complete_finished()
    for p in finished:
        log.info("fan-out of %s done: %d sent, %d failed of %d", p.consultation_id, p.sent, p.failed,
                 p.recipients)
    return sent


class Sender:
    """One SMTP connection's loop: claim due rows (SKIP LOCKED, under a token of its own), fetch the
    contacts at that moment, send each e-mail built from a message rendered once per consultation
    (or digest listing), and mark the accepted ones `sent` in small groups (rules.SentGroup)."""

    def __init__(self, deliveries, mail_contacts: Callable[[list[uuid.UUID]], dict[str, MailContact]], smtp, settings,
                 categories: dict[int, str], signer: URLSafeSerializer):
        self.deliveries, self.mail_contacts, self.smtp, self.s = deliveries, mail_contacts, smtp, settings
        self.categories, self.signer = categories, signer
        self.token = uuid.uuid4()
        self.prepared: dict = {}  # consultation id or digest listing -> mailer.Prepared (or why it cannot be)
        self.sent_group = rules.SentGroup(self._commit_sent, settings.smtp_sent_group)
        self.in_flight: int | None = None  # the row whose SMTP exchange is under way
        self.touched = 0.0  # when this sender last claimed or touched a row (monotonic)

    def drain(self, seconds: float = DRAIN_SECONDS) -> int:
        s, sent, until = self.s, 0, time.monotonic() + seconds
        self.draining = True
        watcher = eventlet.spawn(self._commit_on_time)
        try:  # bounded, so stopping the service (SIGTERM waits for running workers) never waits long
            while time.monotonic() < until:
                # nobody takes a claimed row back before `delivery_stuck_seconds` have passed since the
                # claim: until half of that, counted from before the claim (so the contacts RPC
                # below, slow while the broker is away, eats into it), the rows are surely ours and
                # need no check before sending
                self.touched = time.monotonic()
                fresh_until = self.touched + s.delivery_stuck_seconds / 2
                batch = self.deliveries.claim(s.smtp_batch, timedelta(seconds=s.delivery_stuck_seconds), self.token)
                if not batch:
                    return sent
                fault_point("notifications.after_claim")
                contacts = self.mail_contacts([d.person_id for d in batch])
                self._prepare({d.consultation_id for d in batch if d.consultation_id} - set(self.prepared))
                for d in batch:
                    self.sent_group.flush_if_due()
                    sent += self._send_one(d, contacts.get(str(d.person_id)), time.monotonic() < fresh_until)
                self.sent_group.flush()
            return sent
        finally:
            self.draining = False
            try:
                watcher.wait()
                self.sent_group.flush()
            finally:
                self.smtp.close()

    def _commit_on_time(self) -> None:
        """While the sender works: commit waiting `sent` marks once due even while an SMTP exchange
        hangs, and keep the claim on the row being sent fresh however slow the server is, so a row
        of a live sender is never given back as stuck and sent again by another."""
        while self.draining:
            eventlet.sleep(rules.SENT_GROUP_SECONDS / 4)
            try:
                self.sent_group.flush_if_due()
            except Exception:  # the rows stay `sending`: sent again, same Message-ID, once their claim is stale
                log.exception("could not mark e-mails sent")
            try:
                self._keep_in_flight()
            except Exception:
                log.exception("could not keep the claim on delivery %s", self.in_flight)

    def _keep_in_flight(self) -> None:
        row = self.in_flight
        if row is not None and time.monotonic() - self.touched >= self.s.delivery_stuck_seconds / 3:
            self.touched = time.monotonic()
            if not self.deliveries.still_mine(row, self.token):
                log.warning("delivery %s was given back while its SMTP exchange was under way", row)

    def _prepare(self, consultation_ids: set) -> None:
        """Render each consultation's e-mail once (one read per consultation, not per e-mail)."""
        if not consultation_ids:
            return
        for c, f in self.deliveries.fanouts(consultation_ids).items():
            self.prepared[c] = LookupError("no fan-out") if f is None else _prepared(
                self.s.smtp_from, rules.start_subject(f.title), "consultation_published",
                rules.consultation_context(f, self.categories))

    def _message(self, d, listed):
        if d.kind == rules.FEEDBACK:  # one person's own message: rendered for them alone
            return _prepared(self.s.smtp_from, rules.feedback_subject(listed.title, listed.first), "report_feedback",
                             rules.feedback_context(listed))
        if d.kind != rules.DIGEST:
            return self.prepared[d.consultation_id]
        key = (d.day, tuple(f.consultation_id for f in listed))  # the same for all who chose the same topics
        if key not in self.prepared:
            self.prepared[key] = _prepared(self.s.smtp_from, rules.digest_subject(d.day), "daily_digest",
                                           rules.digest_context(d.day, listed, self.categories))
        return self.prepared[key]

    def _send_one(self, d, contact: MailContact | None, fresh: bool) -> int:
        listed = None
        if not fresh:
            if not self.deliveries.still_mine(d.id, self.token):
                return 0  # given back as stuck and taken by another sender: theirs now
            self.touched = time.monotonic()
        if contact is None:  # unsubscribed, erased or withdrew consent since selection; a contributor: no e-mail chosen
            self.deliveries.skip(d.id, "no e-mail chosen" if d.kind == rules.FEEDBACK else "no longer in the register")
            return 0
        if d.kind == rules.DIGEST:  # the day's digest: what it lists, read at sending
            listed = self.deliveries.digest_listing(d.person_id, d.day)
            if not listed:
                self.deliveries.skip(d.id, "nothing to list")
                return 0
        elif d.kind == rules.FEEDBACK:  # "you said, we did": the message it sends
            listed = self.deliveries.feedback_message(d.feedback_id)
            if listed is None:
                self.deliveries.skip(d.id, "no message")
                return 0
        about = rules.message_about(d.kind, d.consultation_id, d.day, getattr(d, "feedback_id", None))
        try:
            message = self._message(d, listed)
            if isinstance(message, Exception):
                raise message
            data = message.build(contact.full_name, contact.email, mailer.message_id(d.id, about),
                                 rules.unsubscribe_url(self.s.public_url,
                                                       self.signer.dumps({"p": str(d.person_id), "d": d.id})))
        except Exception as exc:  # e.g. a line break in an old title: this row fails, the batch goes on
            reason = rules.unbuildable_reason(exc)
            log.error("delivery %s of %s: message cannot be built (%s); failed for good", d.id, about, reason)
            self.deliveries.mark_failed(d.id, reason, False, d.attempts)
            return 0
        started = time.perf_counter()
        self.in_flight = d.id
        try:
            self.smtp.send_raw(message.envelope_from, contact.email, data)
        except mailer.TemporaryFailure as exc:
            metrics.EMAILS.labels("retry").inc()
            self.deliveries.mark_failed(d.id, str(exc), True, d.attempts)
            return 0
        except mailer.PermanentFailure as exc:
            metrics.EMAILS.labels("failed").inc()
            self.deliveries.mark_failed(d.id, str(exc), False, d.attempts)
            return 0
        finally:
            self.in_flight = None
        metrics.SMTP_SECONDS.observe(time.perf_counter() - started)
        fault_point("notifications.after_smtp_250")  # from here to the group's commit an e-mail can go twice
        self.sent_group.add(d.id)
        return 1

    def _commit_sent(self, ids: list[int]) -> None:
        self.deliveries.mark_sent(ids)
        metrics.EMAILS.labels("sent").inc(len(ids))
        for _ in ids:
            fault_point("notifications.after_sent_commit")


def _prepared(sender: str, subject: str, template: str, context: dict) -> "mailer.Prepared | Exception":
    """The message rendered once, or why it cannot be (each of its rows then fails as unbuildable)."""
    try:
        return mailer.Prepared(sender, subject, template, context)
    except Exception as exc:
        return exc


# ---- the cabinet inbox (R-3.11, R-3.9) ---------------------------------------------------------------

def tell_initiator(tx, env, data, public_url: str) -> None:
    """The initiator learns in the cabinet what became of the initiative."""
    tx.notify(data.initiator_id, env.event_id, *rules.initiative_message(data.title, data.status),
              f"{public_url.rstrip('/')}/consultations/{data.consultation_id}")


def tell_author(tx, env, data, ground_titles: dict[str, str]) -> None:
    """The author learns in the cabinet that a comment was not published, and on which grounds; a
    submission received offline has no cabinet behind it (nothing to tell)."""
    if data.author_id is None:
        return
    tx.notify(data.author_id, env.event_id, *rules.rejection_message(data.grounds, ground_titles), None)


def inbox(uow, person_id: uuid.UUID) -> Inbox:
    with uow.transaction() as tx:
        return tx.read_inbox(person_id)


def mark_read(uow, person_id: uuid.UUID, item_id: int | None) -> int:
    with uow.transaction() as tx:
        return tx.mark_read(person_id, item_id)


def progress(uow, consultation_id: uuid.UUID) -> Progress | None:
    """How far a consultation's start-day fan-out has got (None before it started)."""
    with uow.transaction() as tx:
        return tx.progress(consultation_id)


# ---- one-click unsubscribe (RFC 8058) ----------------------------------------------------------------

def unsubscribe(uow, secret_key: str, token: str, registry_unsubscribe: Callable[[uuid.UUID], bool]) -> None:
    """Each signed link works once: its use is recorded in the same transaction that asks the
    registry to switch the person's e-mail off."""
    try:
        data = unsubscribe_serializer(secret_key).loads(token)
        person_id = parse_uuid(data["p"], "token")
    except (BadSignature, KeyError, TypeError):
        raise InvalidInput("Недійсне посилання для відписки", code="unsubscribe_token_invalid",
                           errors=[{"field": "token", "message": "підпис не збігається"}]) from None
    with uow.transaction() as tx:
        if not tx.use_unsubscribe_token(f"{data['p']}:{data.get('d')}"):
            raise Conflict("Це посилання вже використано", code="unsubscribe_token_used")
        registry_unsubscribe(person_id)
