"""notifications: start-day e-mails to the register (R-1.10, R-3.4), the cabinet inbox (R-3.11),
one-click unsubscribe (entrypoints only)."""
from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

import eventlet
from itsdangerous import BadSignature, URLSafeSerializer
from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer
from sqlalchemy import select

from chassis import metrics
from chassis.consumer import claim_event, subscribe
from chassis.errors import Conflict, InvalidInput, ServiceError
from chassis.errors import parse_uuid as _uuid
from chassis.events import open_envelope
from chassis.faults import fault_point
from chassis.outbox import processed_events
from chassis.service import BaseService
from chassis.settings import get_settings
from services.consultations.categories import CATEGORIES
from services.consultations.schemas import (CommentWasRejected, ConsultationPublished,
                                            InitiativeStatusChanged)
from services.moderation.grounds import GROUNDS
from services.notifications import domain, mailer
from services.notifications.models import PERSONAL, used_unsubscribe_tokens
from services.notifications.webhook_service import WebhookEntrypoints

log = logging.getLogger(__name__)
SELECT_BATCH = 1000
DRAIN_SECONDS = 10.0  # a sender claims no new batch after this; the timer starts it again a second later
SENT_GROUP_SECONDS = 0.5  # the longest an accepted e-mail waits for its `sent` commit
STATUS_UK = {"forwarded": "передано до структурного підрозділу", "draft": "прийнято підрозділом",
             "declined": "відхилено підрозділом", "rejected": "відхилено модератором"}


def unsubscribe_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt="econsult-unsubscribe")


def _prepared(sender: str, subject: str, template: str, context: dict) -> "mailer.Prepared | Exception":
    """The message rendered once, or why it cannot be (each of its rows then fails as unbuildable)."""
    try:
        return mailer.Prepared(sender, subject, template, context)
    except Exception as exc:
        return exc


class SentMarks:
    """Rows whose e-mail the server accepted, marked `sent` together: one commit per ``group``
    e-mails, at the end of each claimed batch, and before the next e-mail once the oldest has waited
    SENT_GROUP_SECONDS. A sender that dies before
    that commit leaves at most ``group`` accepted rows in `sending`; they go out again, with the
    same Message-ID, once `delivery_stuck_seconds` have passed."""

    def __init__(self, db, group: int):
        self.db, self.group, self.ids, self.since = db, max(1, group), [], 0.0

    def add(self, delivery_id: int) -> None:
        if not self.ids:
            self.since = time.monotonic()
        self.ids.append(delivery_id)
        if len(self.ids) >= self.group:
            self.flush()

    def flush_if_due(self) -> None:
        if self.ids and time.monotonic() - self.since >= SENT_GROUP_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self.ids:
            return
        ids, self.ids = self.ids, []
        with self.db.transaction() as session:
            domain.mark_sent(session, ids)
        metrics.EMAILS.labels("sent").inc(len(ids))
        for _ in ids:
            fault_point("notifications.after_sent_commit")


class NotificationsService(WebhookEntrypoints, BaseService):
    name = "notifications"
    personal_data = PERSONAL  # its export
    registry = RpcProxy("registry")

    # ---- the start-day fan-out ---------------------------------------------------------------------
    @subscribe("consultations", "consultation_published")
    def on_consultation_published(self, payload):
        """Select every recipient first (idempotent inserts, batch by batch), then let the senders go.
        The event counts as handled only at the end, so a crash mid-selection selects again."""
        env, data = open_envelope(payload, ConsultationPublished)
        handler = "notifications.on_consultation_published"
        with self.db.transaction() as session:
            if session.execute(select(processed_events.c.event_id).where(
                    processed_events.c.handler == handler, processed_events.c.event_id == env.event_id)).first():
                return
            domain.start_fanout(session, data)
        after, total = None, 0
        send_at = domain.digest_send_at(data.starts_on, get_settings().digest_send_hour)
        while True:
            page = self.registry.interested_persons(data.category, after, SELECT_BATCH)
            digest = [_uuid(p["person_id"], "person_id") for p in page["items"] if p.get("email_mode") == "daily_digest"]
            at_once = [_uuid(p["person_id"], "person_id") for p in page["items"] if p.get("email_mode") != "daily_digest"]
            with self.db.transaction() as session:
                late = domain.add_digest_recipients(session, data.consultation_id, data.starts_on, digest, send_at)
                total += len(digest) - len(late) + domain.add_recipients(session, data.consultation_id, at_once + late)
            after = page["next_after"]
            if not after:
                break
        with self.db.transaction() as session:
            domain.selected(session, data.consultation_id)
            if data.initiator_id:  # the initiator learns in the cabinet that it started
                domain.notify(session, data.initiator_id, env.event_id, f"Розпочато консультацію «{data.title}»",
                              f"Ваша ініціатива оприлюднена; консультація триває з {data.starts_on} до {data.ends_on}.",
                              data.url)
            claim_event(session, handler, env.event_id)
        log.info("fan-out of %s: %d recipients queued", data.consultation_id, total)
        fault_point("notifications.after_commit_before_ack")

    @timer(interval=1.0)
    def send_due(self):
        settings = get_settings()
        pool = eventlet.GreenPool(max(1, settings.smtp_concurrency))
        sent = sum(pool.imap(lambda _: self._drain(), range(max(1, settings.smtp_concurrency))))
        with self.db.transaction() as session:
            for p in domain.complete_finished(session):
                log.info("fan-out of %s done: %d sent, %d failed of %d", p.consultation_id, p.sent, p.failed,
                         p.recipients)
        if sent:
            log.info("sent %d e-mails", sent)

    def _drain(self) -> int:
        s = get_settings()
        smtp = mailer.SmtpSender(s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_user, s.smtp_password,
                                 s.smtp_rate_per_second)
        marks = SentMarks(self.db, s.smtp_sent_group)
        prepared: dict = {}  # one rendered message per consultation (or digest listing) for this drain
        signer = unsubscribe_serializer()
        sent, token, until = 0, uuid.uuid4(), time.monotonic() + DRAIN_SECONDS
        try:  # bounded, so stopping the service (SIGTERM waits for running workers) never waits long
            while time.monotonic() < until:
                # nobody takes a claimed row back before `delivery_stuck_seconds` have passed since the
                # claim: until half of that, counted from before the claim (so the contacts RPC
                # below, slow while the broker is away, eats into it), the rows are surely ours and
                # need no check before sending
                fresh_until = time.monotonic() + s.delivery_stuck_seconds / 2
                with self.db.transaction() as session:
                    batch = domain.claim(session, s.smtp_batch, timedelta(seconds=s.delivery_stuck_seconds), token)
                if not batch:
                    return sent
                fault_point("notifications.after_claim")
                contacts = self.registry.mail_contacts([str(d.person_id) for d in batch])
                new = {d.consultation_id for d in batch if d.consultation_id and d.consultation_id not in prepared}
                if new:
                    with self.db.transaction() as session:  # one read per consultation, not per e-mail
                        fanouts = {c: domain.fanout_for(session, c) for c in new}
                    for c, f in fanouts.items():
                        prepared[c] = LookupError("no fan-out") if f is None else _prepared(
                            s.smtp_from, f"Розпочато консультацію: {f.title}", "consultation_published",
                            domain.consultation_context(f, CATEGORIES))
                for d in batch:
                    marks.flush_if_due()
                    sent += self._send_one(smtp, d, contacts.get(str(d.person_id)), token, prepared, signer, marks,
                                           time.monotonic() < fresh_until)
                marks.flush()
            return sent
        finally:
            try:
                marks.flush()
            finally:
                smtp.close()

    def _send_one(self, smtp: mailer.SmtpSender, d, contact: dict | None, token: uuid.UUID, prepared: dict,
                  signer: URLSafeSerializer, marks: "SentMarks", fresh: bool) -> int:
        s = get_settings()
        if not fresh or contact is None or d.kind == domain.DIGEST:
            with self.db.transaction() as session:
                if not fresh and not domain.still_mine(session, d.id, token):
                    return 0  # given back as stuck and taken by another sender: theirs now
                if contact is None:  # unsubscribed, erased or withdrew consent since selection
                    domain.mark_skipped(session, d.id, "no longer in the register")
                    return 0
                if d.kind == domain.DIGEST:  # the day's digest: what it lists, read at sending
                    listed = domain.digest_consultations(session, d.person_id, d.day)
                    if not listed:
                        domain.mark_skipped(session, d.id, "nothing to list")
                        return 0
        unsubscribe_url = (f"{s.public_url.rstrip('/')}/api/v1/unsubscribe?token="
                           f"{signer.dumps({'p': str(d.person_id), 'd': d.id})}")
        try:
            if d.kind == domain.DIGEST:
                about, key = f"digest-{d.day.isoformat()}", (d.day, tuple(f.consultation_id for f in listed))
                if key not in prepared:  # the same listing for everyone who chose the same categories
                    prepared[key] = _prepared(s.smtp_from, f"Щоденний дайджест консультацій за {d.day:%d.%m.%Y}",
                                              "daily_digest", domain.digest_context(d.day, listed, CATEGORIES))
                message = prepared[key]
            else:
                about = str(d.consultation_id)
                message = prepared[d.consultation_id]
            if isinstance(message, Exception):
                raise message
            data = message.build(contact["full_name"], contact["email"], mailer.message_id(d.id, about),
                                 unsubscribe_url)
        except Exception as exc:  # e.g. a line break in an old title: this row fails, the batch goes on
            reason = domain.unbuildable_reason(exc)
            log.error("delivery %s of %s: message cannot be built (%s); failed for good", d.id, about, reason)
            with self.db.transaction() as session:
                domain.mark_failed(session, d.id, reason, False, d.attempts)
            return 0
        started = time.perf_counter()
        try:
            smtp.send_raw(message.envelope_from, contact["email"], data)
        except mailer.TemporaryFailure as exc:
            metrics.EMAILS.labels("retry").inc()
            with self.db.transaction() as session:
                domain.mark_failed(session, d.id, str(exc), True, d.attempts)
            return 0
        except mailer.PermanentFailure as exc:
            metrics.EMAILS.labels("failed").inc()
            with self.db.transaction() as session:
                domain.mark_failed(session, d.id, str(exc), False, d.attempts)
            return 0
        metrics.SMTP_SECONDS.observe(time.perf_counter() - started)
        fault_point("notifications.after_smtp_250")  # from here to the group's commit an e-mail can go twice
        marks.add(d.id)
        return 1

    # ---- the cabinet inbox (R-3.11, R-3.9) ----------------------------------------------------------
    def _inbox_once(self, handler: str, env, person_id, title: str, body: str, link: str | None) -> None:
        with self.db.transaction() as session:
            if claim_event(session, f"notifications.{handler}", env.event_id):
                domain.notify(session, person_id, env.event_id, title, body, link)

    @subscribe("consultations", "initiative_status_changed")
    def on_initiative_status_changed(self, payload):
        env, data = open_envelope(payload, InitiativeStatusChanged)
        url = f"{get_settings().public_url.rstrip('/')}/consultations/{data.consultation_id}"
        self._inbox_once("on_initiative_status_changed", env, data.initiator_id,
                         f"Ваша ініціатива «{data.title}»: {STATUS_UK.get(data.status, data.status)}",
                         "Подробиці — на сторінці ініціативи.", url)

    @subscribe("consultations", "comment_rejected")
    def on_comment_rejected(self, payload):
        env, data = open_envelope(payload, CommentWasRejected)
        grounds = "; ".join(GROUNDS[g].title if g in GROUNDS else g for g in data.grounds)
        self._inbox_once("on_comment_rejected", env, data.author_id, "Ваш коментар не оприлюднено",
                         f"Підстава (п. 3.7 Положення): {grounds}.", None)

    @rpc(expected_exceptions=ServiceError)
    def inbox(self, person_id) -> dict:
        with self.db.transaction() as session:
            return domain.read_inbox(session, _uuid(person_id, "person_id")).model_dump(mode="json")

    @rpc(expected_exceptions=ServiceError)
    def mark_read(self, person_id, item_id=None) -> int:
        if item_id is not None and not isinstance(item_id, int):
            raise InvalidInput("id має бути числом", errors=[{"field": "id", "message": "ціле число"}])
        with self.db.transaction() as session:
            return domain.mark_read(session, _uuid(person_id, "person_id"), item_id)

    @rpc(expected_exceptions=ServiceError)
    def progress(self, consultation_id) -> dict | None:
        with self.db.transaction() as session:
            p = domain.progress(session, _uuid(consultation_id, "consultation_id"))
            return p.model_dump(mode="json") if p else None

    # ---- one-click unsubscribe (RFC 8058) -----------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def unsubscribe(self, token: str) -> dict:
        try:
            data = unsubscribe_serializer().loads(token)
            person_id = _uuid(data["p"], "token")
        except (BadSignature, KeyError, TypeError):
            raise InvalidInput("Недійсне посилання для відписки", code="unsubscribe_token_invalid",
                               errors=[{"field": "token", "message": "підпис не збігається"}]) from None
        from sqlalchemy.dialects.postgresql import insert

        token_id = f"{data['p']}:{data.get('d')}"
        with self.db.transaction() as session:
            first = session.execute(insert(used_unsubscribe_tokens).values(token_id=token_id)
                                    .on_conflict_do_nothing().returning(used_unsubscribe_tokens.c.token_id)).first()
            if first is None:
                raise Conflict("Це посилання вже використано", code="unsubscribe_token_used")
            self.registry.unsubscribe(str(person_id))
        return {"unsubscribed": True}
