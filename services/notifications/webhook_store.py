"""The SQL of webhooks and the public event feed: ``WebhookStore``, over one session of a unit of
work (the rules it applies are in ``webhook_domain.py``)."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from sqlalchemy import (DateTime, Integer, SmallInteger, String, Uuid, bindparam, cast, column, delete, func, select, text,
                        update)
from sqlalchemy.dialects.postgresql import JSONB, array, insert

from chassis.store import SqlStore
from services.notifications.webhook_domain import (ACTIVE, Job, Outcome, Result, as_cloudevent, decide, now, scrub,
                                                   secrets_of)
from services.notifications.webhook_models import (public_events, webhook_attempts, webhook_deliveries,
                                                   webhook_subscriptions as subs)
from services.notifications.webhook_signing import new_secret

FEED_LOCK = 0x6665_6564  # "feed": one transaction-scoped lock for every insert into the feed


def wants(selected, event_type, version):
    """SQL: a subscription's ``event_types`` name this type in this version (``<type>`` is version 1,
    ``<type>.v<N>`` version N)."""
    return (((version == 1) & (event_type == func.any(selected)))
            | ((event_type + ".v" + func.cast(version, String)) == func.any(selected)))


PUBLIC_COLUMNS = [subs.c.id, subs.c.url, subs.c.event_types, subs.c.description, subs.c.owner_contact,
                  subs.c.status, subs.c.status_reason, subs.c.created_at, subs.c.status_changed_at,
                  subs.c.previous_secret_until]


CLAIM_SQL = text("""
WITH picked AS (
    SELECT d.id FROM webhook_subscriptions s
    CROSS JOIN LATERAL (
        SELECT w.id FROM webhook_deliveries w
        WHERE w.subscription_id = s.id AND w.status = 'pending' AND w.next_attempt_at <= now()
        ORDER BY w.next_attempt_at, w.id
        LIMIT greatest(0, (CASE WHEN s.id = ANY(CAST(:probing AS uuid[])) THEN 1 ELSE :per_sub END)
                          - (SELECT count(*) FROM webhook_deliveries x
                             WHERE x.subscription_id = s.id AND x.status = 'sending'))
        FOR UPDATE OF w SKIP LOCKED
    ) d
    WHERE s.status IN ('active', 'failing') AND NOT s.id = ANY(CAST(:paused AS uuid[]))
    ORDER BY random()
    LIMIT :n
), claimed AS (
    UPDATE webhook_deliveries w SET status = 'sending', claimed_at = now(), claim_token = :token,
                                    attempts = w.attempts + 1
    FROM picked WHERE w.id = picked.id
    RETURNING w.id, w.attempts, w.subscription_id, w.created_at, w.feed_id
)
SELECT c.id AS delivery_id, c.attempts, c.subscription_id, c.created_at AS queued_at,
       s.status AS subscription_status, s.url, s.secret, s.previous_secret, s.previous_secret_until,
       e.id, e.event_id, e.source, e.type, e.version, e.occurred_at, e.subject, e.data
FROM claimed c JOIN webhook_subscriptions s ON s.id = c.subscription_id
JOIN public_events e ON e.id = c.feed_id
ORDER BY c.id
""")


FINISH_SQL = text("""
UPDATE webhook_deliveries d
SET status = v.status, last_status = v.last_status, last_error = v.last_error,
    next_attempt_at = coalesce(v.next_attempt_at, d.next_attempt_at),
    delivered_at = CASE WHEN v.status = 'delivered' THEN now() ELSE d.delivered_at END
FROM unnest(CAST(:ids AS bigint[]), CAST(:tokens AS uuid[]), CAST(:statuses AS text[]),
            CAST(:codes AS int[]), CAST(:errors AS text[]), CAST(:nexts AS timestamptz[]))
     AS v(id, token, status, last_status, last_error, next_attempt_at)
WHERE d.id = v.id AND d.status = 'sending' AND d.claim_token = v.token
RETURNING d.id
""")


EXPIRE_SQL = text("""
WITH expired AS (
    UPDATE webhook_deliveries SET status = 'failed',
           last_error = left(coalesce(last_error || '; ', '') || 'not delivered within the retry window', 500)
    WHERE status = 'pending' AND created_at < now() - make_interval(secs => :window)
    RETURNING subscription_id
)
UPDATE webhook_subscriptions s
SET status = 'failing', status_changed_at = now(),
    status_reason = left('deliveries not delivered within ' || :window || ' s', 500)
FROM (SELECT DISTINCT subscription_id FROM expired) e
WHERE s.id = e.subscription_id AND s.status = 'active'
RETURNING s.id, s.owner_contact
""")


def _record():
    """The feed's insert and the deliveries it queues, in one statement built once (rows arrive as one
    JSON array: a multi-row VALUES is compiled anew for every call, which cost more CPU than running it)."""
    given = func.jsonb_to_recordset(cast(bindparam("rows", type_=String), JSONB)).table_valued(
        column("event_id", Uuid), column("source", String), column("type", String),
        column("version", SmallInteger), column("occurred_at", DateTime(timezone=True)), column("subject", String),
        column("data", JSONB), column("n", Integer)).render_derived("r", with_types=True)
    cols = ["event_id", "source", "type", "version", "occurred_at", "subject", "data"]
    ev = insert(public_events).from_select(cols, select(*(given.c[c] for c in cols)).order_by(given.c.n)) \
        .on_conflict_do_nothing(index_elements=["event_id"]) \
        .returning(public_events.c.id, public_events.c.event_id, public_events.c.type, public_events.c.version).cte("ev")
    queued = insert(webhook_deliveries).from_select(
        ["subscription_id", "event_id", "feed_id", "status"],
        select(subs.c.id, ev.c.event_id, ev.c.id, text("'pending'")).select_from(ev).join(
            subs, subs.c.status.in_(ACTIVE) & wants(subs.c.event_types, ev.c.type, ev.c.version))
    ).on_conflict_do_nothing().returning(webhook_deliveries.c.id).cte("queued")
    return select(ev.c.id, select(func.count()).select_from(queued).scalar_subquery().label("queued"))


_RECORD = _record()


class WebhookStore(SqlStore):
    """Subscriptions, the feed, deliveries and attempts."""

    def record_public_events(self, rows: list[dict]) -> int:
        """Store public events once each and queue them for every subscription that wants their type, in
        one statement (a redelivered event is skipped); returns the number of deliveries queued.

        Inserts into the feed are serialised by a transaction lock, so cursors are given in commit order:
        a reader that has seen cursor N never later finds a smaller cursor committed behind it."""
        rows = list({r["event_id"]: r for r in rows}.values())
        self.session.execute(select(func.pg_advisory_xact_lock(FEED_LOCK)))
        stored = self.session.execute(_RECORD, {"rows": json.dumps([r | {"n": n} for n, r in enumerate(rows)],
                                                                  default=str)}).first()
        return stored.queued if stored else 0

    def feed(self, after: int, types: list[str], limit: int) -> tuple[list[dict], int]:
        """Public events after the cursor ``after``, oldest first; the next cursor (``after`` if none)."""
        q = select(public_events).where(public_events.c.id > after)
        if types:
            q = q.where(wants(array(types, type_=String), public_events.c.type, public_events.c.version))
        rows = self.session.execute(q.order_by(public_events.c.id).limit(limit)).all()
        return [as_cloudevent(r) for r in rows], (rows[-1].id if rows else after)

    def purge(self, retention_days: int) -> int:
        """Forget events, deliveries and attempts older than the retention (pending ones are kept)."""
        cutoff = now() - timedelta(days=retention_days)
        self.session.execute(delete(webhook_attempts).where(webhook_attempts.c.at < cutoff))
        self.session.execute(delete(webhook_deliveries).where(webhook_deliveries.c.created_at < cutoff,
                                                         webhook_deliveries.c.status.notin_(("pending", "sending"))))
        return self.session.execute(delete(public_events).where(public_events.c.received_at < cutoff)).rowcount

    def create_subscription(self, url: str, event_types: list[str], description: str,
                            owner_contact: str, created_by: uuid.UUID | None) -> tuple[dict, str]:
        sub_id, secret = uuid.uuid4(), new_secret()
        self.session.execute(insert(subs).values(id=sub_id, url=url, event_types=sorted(set(event_types)),
                                            description=description, owner_contact=owner_contact, status="active",
                                            secret=secret, created_by=created_by))
        return self.get_subscription(sub_id), secret

    def get_subscription(self, sub_id: uuid.UUID) -> dict | None:
        row = self.session.execute(select(*PUBLIC_COLUMNS).where(subs.c.id == sub_id)).first()
        return dict(row._mapping) if row else None

    def list_subscriptions(self) -> list[dict]:
        return [dict(r._mapping) for r in self.session.execute(select(*PUBLIC_COLUMNS).order_by(subs.c.created_at))]

    def rotate_secret(self, sub_id: uuid.UUID, grace: timedelta) -> str | None:
        """A new secret; the old one keeps signing (beside it) for ``grace``."""
        secret = new_secret()
        done = self.session.execute(update(subs).where(subs.c.id == sub_id).values(
            previous_secret=subs.c.secret, previous_secret_until=now() + grace, secret=secret)
            .returning(subs.c.id)).first()
        return secret if done else None

    def disable(self, sub_id: uuid.UUID, reason: str) -> bool:
        done = self.session.execute(update(subs).where(subs.c.id == sub_id).values(
            status="disabled", status_reason=reason, status_changed_at=func.now()).returning(subs.c.id)).first()
        self.session.execute(update(webhook_deliveries).where(webhook_deliveries.c.subscription_id == sub_id,
                                                         webhook_deliveries.c.status == "pending")
                        .values(status="cancelled", last_error=reason[:500]))
        return done is not None

    def give_back_stuck(self, stuck_after: timedelta) -> int:
        """Deliveries whose sender died mid-way (claimed longer ago than any POST can last) are due again."""
        return self.session.execute(update(webhook_deliveries).where(webhook_deliveries.c.status == "sending",
                                                                webhook_deliveries.c.claimed_at < now() - stuck_after)
                               .values(status="pending")).rowcount

    def claim(self, limit: int, per_subscription: int, token: uuid.UUID,
              paused: list[uuid.UUID] = (), probing: list[uuid.UUID] = ()) -> list[Job]:
        """Take up to ``limit`` due deliveries in one statement: at most ``per_subscription`` of one
        subscription in flight (one of a ``probing`` one), none of a ``paused`` one."""
        import json

        rows = self.session.execute(CLAIM_SQL, {"per_sub": per_subscription, "n": limit, "token": token,
                                           "paused": [str(p) for p in paused],
                                           "probing": [str(p) for p in probing]}).all()
        at = now()
        return [Job(r.delivery_id, r.subscription_id, r.event_id, r.url,
                    secrets_of(r, at), json.dumps(as_cloudevent(r), ensure_ascii=False, separators=(",", ":"),
                                                  default=str).encode(), r.attempts, r.queued_at, r.subscription_status,
                    token)
                for r in rows]

    def finish_many(self, results: list[Result], settings) -> list[Outcome]:
        """Record a batch of attempts and decide what follows each: one update of the deliveries, one
        insert of the attempts, and a statement per subscription whose state changes."""
        at = now()
        decided = [decide(r.job, r.status, r.error, settings, at) for r in results]
        mine = set(self.session.execute(FINISH_SQL, {
            "ids": [r.job.delivery_id for r in results], "tokens": [str(r.job.token) for r in results],
            "statuses": [v["status"] for _, v in decided], "codes": [r.status for r in results],
            "errors": [v["last_error"] for _, v in decided], "nexts": [v["next_attempt_at"] for _, v in decided],
        }).scalars())
        self.session.execute(insert(webhook_attempts), [
            {"delivery_id": r.job.delivery_id, "subscription_id": r.job.subscription_id, "status_code": r.status,
             "latency_ms": r.latency_ms, "error": (r.error or None) and r.error[:500],
             "response_excerpt": scrub(r.excerpt, r.job.secrets)} for r in results])
        outcomes, recovered = [], set()
        for r, (state, values) in zip(results, decided):
            job = r.job
            if job.delivery_id not in mine:  # given back as stuck and taken by another sender: theirs to record
                outcomes.append(Outcome("lost"))
                continue
            if state == "delivered" and job.subscription_status == "failing":
                recovered.add(job.subscription_id)
            elif state == "gone":
                self.disable(job.subscription_id, "the receiver answered 410 Gone")
            elif state == "failed":
                flipped = self.session.execute(update(subs).where(subs.c.id == job.subscription_id, subs.c.status == "active")
                                          .values(status="failing", status_changed_at=func.now(), status_reason=(
                                              f"a delivery failed for {settings.webhook_retry_window_seconds:g} s: "
                                              f"{values['last_error']}")[:500])
                                          .returning(subs.c.owner_contact)).first()
                outcomes.append(Outcome("failed", flipped is not None, flipped.owner_contact if flipped else None))
                continue
            outcomes.append(Outcome(state))
        if recovered:
            self.session.execute(update(subs).where(subs.c.id.in_(recovered), subs.c.status == "failing").values(
                status="active", status_reason=None, status_changed_at=func.now()))
        return outcomes

    def expire(self, window_seconds: float) -> list[tuple[uuid.UUID, str]]:
        """Fail every delivery still pending after the retry window, even one a paused subscription never
        got to try again; returns the subscriptions this newly marks failing, with their owners."""
        return [(r.id, r.owner_contact) for r in self.session.execute(EXPIRE_SQL, {"window": float(window_seconds)})]

    def deliveries(self, sub_id: uuid.UUID, limit: int, before: int | None) -> list[dict]:
        q = select(webhook_deliveries.c.id, webhook_deliveries.c.event_id, public_events.c.type,
                   webhook_deliveries.c.status, webhook_deliveries.c.attempts, webhook_deliveries.c.created_at,
                   webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.delivered_at,
                   webhook_deliveries.c.last_status, webhook_deliveries.c.last_error) \
            .join(public_events, public_events.c.id == webhook_deliveries.c.feed_id) \
            .where(webhook_deliveries.c.subscription_id == sub_id)
        if before:
            q = q.where(webhook_deliveries.c.id < before)
        out = []
        for r in self.session.execute(q.order_by(webhook_deliveries.c.id.desc()).limit(limit)).all():
            item = dict(r._mapping)
            item["attempt_log"] = [dict(a._mapping) for a in self.session.execute(
                select(webhook_attempts.c.at, webhook_attempts.c.status_code, webhook_attempts.c.latency_ms,
                       webhook_attempts.c.error, webhook_attempts.c.response_excerpt)
                .where(webhook_attempts.c.delivery_id == r.id).order_by(webhook_attempts.c.id))]
            out.append(item)
        return out

    def resend(self, sub_id: uuid.UUID, delivery_id: int) -> bool:
        """Send one delivery again (same webhook-id), whatever became of it."""
        return self.session.execute(update(webhook_deliveries).where(
            webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.subscription_id == sub_id,
            webhook_deliveries.c.status != "sending").values(
            status="pending", next_attempt_at=func.now(), created_at=func.now(), attempts=0)
            .returning(webhook_deliveries.c.id)).first() is not None

    def replay(self, sub_id: uuid.UUID, since: datetime, until: datetime) -> int:
        """Queue again every stored event of the subscription's types that occurred in [since, until)."""
        sub = self.session.execute(select(subs.c.event_types).where(subs.c.id == sub_id)).first()
        if sub is None:
            return 0
        rows = self.session.execute(select(public_events.c.id, public_events.c.event_id).where(
            wants(array(sub.event_types, type_=String), public_events.c.type, public_events.c.version),
            public_events.c.occurred_at >= since,
            public_events.c.occurred_at < until)).all()
        if not rows:
            return 0
        stmt = insert(webhook_deliveries).values([
            {"subscription_id": sub_id, "event_id": r.event_id, "feed_id": r.id, "status": "pending"} for r in rows])
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=["subscription_id", "event_id"],
            set_={"status": "pending", "next_attempt_at": func.now(), "created_at": func.now(), "attempts": 0},
            where=webhook_deliveries.c.status != "sending"))
        return len(rows)
