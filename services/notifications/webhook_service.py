"""The nameko entrypoints of webhooks and the public event feed, mixed into the notifications
service (docs/webhooks.md): one subscription per public event type writes the feed and queues
deliveries; a timer keeps a pool of senders busy; RPCs for administrators and the feed."""
from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from email.message import EmailMessage

import eventlet
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import timer

from chassis.consumer import subscribe
from chassis.errors import InvalidInput, NotFound, ServiceError, parse, parse_uuid
from chassis.events import Envelope
from chassis.faults import fault_point
from chassis.settings import get_settings
from contracts import public_events
from contracts.webhooks import FeedQuery, ReplayIn, SubscriptionIn
from services.notifications import webhook_domain as wd, webhook_http

log = logging.getLogger(__name__)
DRAIN_SECONDS = 5.0
USER_AGENT = "econsult-webhooks/1"
_POOL: dict[str, eventlet.GreenPool] = {}


class WebhookSettingsGuard(DependencyProvider):
    """Refuses to start with the test-only loopback allowance in production."""

    def setup(self):
        webhook_http.refuse_in_production(get_settings())


def _feed_handler(source: str, event_type: str):
    def handler(self, payload):
        env = Envelope.model_validate(payload)
        row = public_events.from_envelope(source, env)
        if row is None:
            return
        with self.db.transaction() as session:
            wd.record_public_event(session, row)

    handler.__name__ = f"feed_{source}_{event_type}"
    handler.__doc__ = f"{source}.{event_type} into the public feed and the webhook queue"
    return subscribe(source, event_type)(handler)


def _pool() -> eventlet.GreenPool:
    if "senders" not in _POOL:
        _POOL["senders"] = eventlet.GreenPool(get_settings().webhook_concurrency)
    return _POOL["senders"]


def _uuid_or_404(value, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} не знайдено") from None


class WebhookEntrypoints:
    webhook_guard = WebhookSettingsGuard()

    locals().update({f"feed_{s}_{t}": _feed_handler(s, t) for s, t in public_events.PUBLIC})

    # ---- sending --------------------------------------------------------------------------------
    @timer(interval=get_settings().webhook_poll_seconds)
    def send_webhooks(self):
        """Keep the process's senders busy for a while: claim as many due deliveries as there are
        free senders, at most a few per subscription; never wait for a slow receiver here."""
        s = get_settings()
        pool, until = _pool(), time.monotonic() + DRAIN_SECONDS
        token = uuid.uuid4()
        with self.db.transaction() as session:
            wd.give_back_stuck(session, stuck_after(s))
        batch = max(1, s.webhook_concurrency // 4)  # claims in batches: one query per few free senders
        while time.monotonic() < until:
            free = pool.free()
            if free >= batch or (free and pool.running() == 0):
                with self.db.transaction() as session:
                    jobs = wd.claim(session, free, s.webhook_per_subscription, token)
                for job in jobs:
                    pool.spawn_n(self._deliver, job, token)
                if jobs:
                    continue
                if pool.running() == 0:
                    return
            eventlet.sleep(0.01)

    def _deliver(self, job: wd.Job, token: uuid.UUID) -> None:
        s = get_settings()
        try:
            stamp = int(time.time())
            headers = {"Content-Type": public_events.CONTENT_TYPE, "User-Agent": USER_AGENT,
                       **webhook_sign_headers(job, stamp)}
            answer = webhook_http.post(job.url, job.body, headers, s)
            if answer.status is not None and 200 <= answer.status < 300:
                fault_point("notifications.webhook_after_response")
            with self.db.transaction() as session:
                outcome = wd.finish(session, job, token, answer.status, answer.latency_ms, answer.excerpt,
                                    answer.error, s)
            if outcome.state != "delivered":
                log.info("webhook delivery %s to subscription %s: %s (%s)", job.delivery_id, job.subscription_id,
                         outcome.state, answer.error or answer.status)
            if outcome.newly_failing:
                self._tell_owner(job, outcome.owner_contact)
        except Exception:  # the row stays `sending` and is retried after WEBHOOK_STUCK_SECONDS
            log.exception("webhook delivery %s crashed", job.delivery_id)

    def _tell_owner(self, job: wd.Job, contact: str | None) -> None:
        from services.notifications import mailer

        s = get_settings()
        msg = EmailMessage(policy=mailer.POLICY)
        msg["From"], msg["To"] = s.smtp_from, contact
        msg["Subject"] = "Вебхук електронних консультацій не доставляється"
        msg.set_content(f"Підписка {job.subscription_id} позначена як несправна: доставка події {job.event_id} "
                        f"не вдалася протягом {s.webhook_retry_window_seconds / 3600:g} год.\n"
                        "Нові події надсилатимуться й далі; журнал спроб бачать адміністратори платформи.\n")
        try:
            sender = mailer.SmtpSender(s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_user, s.smtp_password,
                                       s.smtp_rate_per_second)
            try:
                sender.send(msg)
            finally:
                sender.close()
        except Exception as exc:
            log.warning("could not tell the owner of subscription %s: %s", job.subscription_id, exc)
        log.warning("webhook subscription %s is failing; its owner was told", job.subscription_id)

    @timer(interval=3600)
    def purge_event_feed(self):
        with self.db.transaction() as session:
            gone = wd.purge(session, get_settings().event_feed_retention_days)
        if gone:
            log.info("event feed: %d events past the retention removed", gone)

    # ---- administrators -------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def webhook_create(self, admin_id, body: dict) -> dict:
        data = parse(SubscriptionIn, body)
        try:
            webhook_http.check_url(data.url, get_settings())
        except webhook_http.Refused as exc:
            raise InvalidInput("Цю адресу не можна використати для вебхука", code="webhook_url_refused",
                               errors=[{"field": "url", "message": str(exc)}]) from None
        with self.db.transaction() as session:
            sub, secret = wd.create_subscription(session, data.url, data.event_types, data.description,
                                                 data.owner_contact, parse_uuid(admin_id, "admin_id"))
        log.info("webhook subscription %s created", sub["id"])
        return _json({**sub, "secret": secret})

    @rpc(expected_exceptions=ServiceError)
    def webhook_list(self) -> dict:
        with self.db.transaction() as session:
            return _json({"items": wd.list_subscriptions(session)})

    @rpc(expected_exceptions=ServiceError)
    def webhook_get(self, sub_id) -> dict:
        with self.db.transaction() as session:
            sub = wd.get_subscription(session, _uuid_or_404(sub_id, "Підписку"))
        if sub is None:
            raise NotFound("Підписку не знайдено", code="webhook_not_found")
        return _json(sub)

    @rpc(expected_exceptions=ServiceError)
    def webhook_rotate_secret(self, sub_id) -> dict:
        grace = timedelta(hours=get_settings().webhook_secret_grace_hours)
        with self.db.transaction() as session:
            secret = wd.rotate_secret(session, _uuid_or_404(sub_id, "Підписку"), grace)
            sub = wd.get_subscription(session, _uuid_or_404(sub_id, "Підписку"))
        if secret is None:
            raise NotFound("Підписку не знайдено", code="webhook_not_found")
        log.info("webhook subscription %s: secret rotated", sub_id)
        return _json({"secret": secret, "previous_secret_until": sub["previous_secret_until"]})

    @rpc(expected_exceptions=ServiceError)
    def webhook_disable(self, sub_id) -> dict:
        with self.db.transaction() as session:
            if not wd.disable(session, _uuid_or_404(sub_id, "Підписку"), "disabled by an administrator"):
                raise NotFound("Підписку не знайдено", code="webhook_not_found")
            return _json(wd.get_subscription(session, _uuid_or_404(sub_id, "Підписку")))

    @rpc(expected_exceptions=ServiceError)
    def webhook_deliveries(self, sub_id, limit: int = 50, before: int | None = None) -> dict:
        sid = _uuid_or_404(sub_id, "Підписку")
        with self.db.transaction() as session:
            if wd.get_subscription(session, sid) is None:
                raise NotFound("Підписку не знайдено", code="webhook_not_found")
            items = wd.deliveries(session, sid, int(limit), before)
        return _json({"items": items, "next_before": items[-1]["id"] if len(items) == int(limit) else None})

    @rpc(expected_exceptions=ServiceError)
    def webhook_resend(self, sub_id, delivery_id) -> dict:
        with self.db.transaction() as session:
            if not isinstance(delivery_id, int) or not wd.resend(session, _uuid_or_404(sub_id, "Підписку"),
                                                                  delivery_id):
                raise NotFound("Доставку не знайдено (або вона саме надсилається)", code="delivery_not_found")
        return {"queued": 1}

    @rpc(expected_exceptions=ServiceError)
    def webhook_replay(self, sub_id, body: dict) -> dict:
        data = parse(ReplayIn, body)
        if data.until <= data.since:
            raise InvalidInput("Кінець проміжку має бути пізніше за початок",
                               errors=[{"field": "until", "message": "має бути пізніше за since"}])
        sid = _uuid_or_404(sub_id, "Підписку")
        with self.db.transaction() as session:
            if wd.get_subscription(session, sid) is None:
                raise NotFound("Підписку не знайдено", code="webhook_not_found")
            return {"queued": wd.replay(session, sid, data.since, data.until)}

    # ---- the public feed ------------------------------------------------------------------------
    @rpc(expected_exceptions=ServiceError)
    def event_feed(self, query: dict) -> dict:
        q = parse(FeedQuery, query)
        with self.db.transaction() as session:
            items, next_after = wd.feed(session, q.after, q.type_list(), q.limit)
        return _json({"items": items, "next_after": next_after})


def stuck_after(s) -> timedelta:
    """A claimed delivery is given back only once no sender can still be waiting for its answer."""
    return timedelta(seconds=max(s.webhook_stuck_seconds, s.webhook_connect_timeout + s.webhook_timeout + 5))


def webhook_sign_headers(job: wd.Job, stamp: int) -> dict[str, str]:
    from services.notifications.webhook_signing import headers

    return headers(job.secrets, str(job.event_id), stamp, job.body)


def _json(value):
    """Plain JSON types for the RPC reply (kombu would wrap datetimes and UUIDs)."""
    import json

    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))
