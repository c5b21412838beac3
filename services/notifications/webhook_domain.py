"""Webhook rules as plain functions over a SQLAlchemy session (docs/webhooks.md).

A public event is written once into ``public_events`` (its id is the feed's cursor) and, in the same
transaction, one delivery row per matching subscription (unique subscription × event). Senders claim
due rows with SKIP LOCKED, at most ``per_subscription`` of one subscription in flight (so a slow or
failing receiver keeps the others' senders free), POST, and record the attempt. A 2xx delivers, a
410 disables the subscription, anything else is retried with exponential backoff and jitter until
the retry window has passed; then the delivery fails and its subscription is marked failing.
"""
from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import String, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import array, insert
from sqlalchemy.orm import Session

from contracts.public_events import cloudevent
from services.notifications.webhook_models import (public_events, webhook_attempts, webhook_deliveries,
                                                   webhook_subscriptions as subs)
from services.notifications.webhook_signing import new_secret

ACTIVE = ("active", "failing")


def now() -> datetime:
    return datetime.now(timezone.utc)


# ---- the feed ---------------------------------------------------------------------------------------

FEED_LOCK = 0x6665_6564  # "feed": one transaction-scoped lock for every insert into the feed


def wants(selected, event_type, version):
    """SQL: a subscription's ``event_types`` name this type in this version (``<type>`` is version 1,
    ``<type>.v<N>`` version N)."""
    return (((version == 1) & (event_type == func.any(selected)))
            | ((event_type + ".v" + func.cast(version, String)) == func.any(selected)))


def record_public_events(session: Session, rows: list[dict]) -> list[int]:
    """Store public events once each and queue them for every subscription that wants their type, in
    one statement; returns the cursors of those not stored before (a redelivered event is skipped).

    Inserts into the feed are serialised by a transaction lock, so cursors are given in commit order:
    a reader that has seen cursor N never later finds a smaller cursor committed behind it."""
    rows = list({r["event_id"]: r for r in rows}.values())
    session.execute(select(func.pg_advisory_xact_lock(FEED_LOCK)))
    ev = insert(public_events).values(rows).on_conflict_do_nothing(index_elements=["event_id"]) \
        .returning(public_events.c.id, public_events.c.event_id, public_events.c.type, public_events.c.version).cte("ev")
    queued = insert(webhook_deliveries).from_select(
        ["subscription_id", "event_id", "feed_id", "status"],
        select(subs.c.id, ev.c.event_id, ev.c.id, text("'pending'")).select_from(ev).join(
            subs, subs.c.status.in_(ACTIVE) & wants(subs.c.event_types, ev.c.type, ev.c.version))
    ).on_conflict_do_nothing().returning(webhook_deliveries.c.id).cte("queued")
    return [r.id for r in session.execute(
        select(ev.c.id, select(func.count()).select_from(queued).scalar_subquery().label("queued")))]


def as_cloudevent(r) -> dict:
    return cloudevent(event_id=r.event_id, source=r.source, event_type=r.type, version=r.version,
                      occurred_at=r.occurred_at, subject=r.subject, data=r.data, sequence=r.id)


def feed(session: Session, after: int, types: list[str], limit: int) -> tuple[list[dict], int]:
    """Public events after the cursor ``after``, oldest first; the next cursor (``after`` if none)."""
    q = select(public_events).where(public_events.c.id > after)
    if types:
        q = q.where(wants(array(types, type_=String), public_events.c.type, public_events.c.version))
    rows = session.execute(q.order_by(public_events.c.id).limit(limit)).all()
    return [as_cloudevent(r) for r in rows], (rows[-1].id if rows else after)


def purge(session: Session, retention_days: int) -> int:
    """Forget events, deliveries and attempts older than the retention (pending ones are kept)."""
    cutoff = now() - timedelta(days=retention_days)
    session.execute(delete(webhook_attempts).where(webhook_attempts.c.at < cutoff))
    session.execute(delete(webhook_deliveries).where(webhook_deliveries.c.created_at < cutoff,
                                                     webhook_deliveries.c.status.notin_(("pending", "sending"))))
    return session.execute(delete(public_events).where(public_events.c.received_at < cutoff)).rowcount


# ---- subscriptions ----------------------------------------------------------------------------------

PUBLIC_COLUMNS = [subs.c.id, subs.c.url, subs.c.event_types, subs.c.description, subs.c.owner_contact,
                  subs.c.status, subs.c.status_reason, subs.c.created_at, subs.c.status_changed_at,
                  subs.c.previous_secret_until]


def create_subscription(session: Session, url: str, event_types: list[str], description: str,
                        owner_contact: str, created_by: uuid.UUID | None) -> tuple[dict, str]:
    sub_id, secret = uuid.uuid4(), new_secret()
    session.execute(insert(subs).values(id=sub_id, url=url, event_types=sorted(set(event_types)),
                                        description=description, owner_contact=owner_contact, status="active",
                                        secret=secret, created_by=created_by))
    return get_subscription(session, sub_id), secret


def get_subscription(session: Session, sub_id: uuid.UUID) -> dict | None:
    row = session.execute(select(*PUBLIC_COLUMNS).where(subs.c.id == sub_id)).first()
    return dict(row._mapping) if row else None


def list_subscriptions(session: Session) -> list[dict]:
    return [dict(r._mapping) for r in session.execute(select(*PUBLIC_COLUMNS).order_by(subs.c.created_at))]


def rotate_secret(session: Session, sub_id: uuid.UUID, grace: timedelta) -> str | None:
    """A new secret; the old one keeps signing (beside it) for ``grace``."""
    secret = new_secret()
    done = session.execute(update(subs).where(subs.c.id == sub_id).values(
        previous_secret=subs.c.secret, previous_secret_until=now() + grace, secret=secret)
        .returning(subs.c.id)).first()
    return secret if done else None


def disable(session: Session, sub_id: uuid.UUID, reason: str) -> bool:
    done = session.execute(update(subs).where(subs.c.id == sub_id).values(
        status="disabled", status_reason=reason, status_changed_at=func.now()).returning(subs.c.id)).first()
    session.execute(update(webhook_deliveries).where(webhook_deliveries.c.subscription_id == sub_id,
                                                     webhook_deliveries.c.status == "pending")
                    .values(status="cancelled", last_error=reason[:500]))
    return done is not None


def secrets_of(row, at: datetime | None = None) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its grace."""
    at = at or now()
    out = [row.secret]
    if row.previous_secret and row.previous_secret_until and row.previous_secret_until > at:
        out.append(row.previous_secret)
    return out


# ---- sending ----------------------------------------------------------------------------------------

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


@dataclass
class Job:
    delivery_id: int
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    secrets: list[str]
    body: bytes
    attempts: int
    created_at: datetime
    subscription_status: str
    token: uuid.UUID | None = None


def give_back_stuck(session: Session, stuck_after: timedelta) -> int:
    """Deliveries whose sender died mid-way (claimed longer ago than any POST can last) are due again."""
    return session.execute(update(webhook_deliveries).where(webhook_deliveries.c.status == "sending",
                                                            webhook_deliveries.c.claimed_at < now() - stuck_after)
                           .values(status="pending")).rowcount


def claim(session: Session, limit: int, per_subscription: int, token: uuid.UUID,
          paused: list[uuid.UUID] = (), probing: list[uuid.UUID] = ()) -> list[Job]:
    """Take up to ``limit`` due deliveries in one statement: at most ``per_subscription`` of one
    subscription in flight (one of a ``probing`` one), none of a ``paused`` one."""
    import json

    rows = session.execute(CLAIM_SQL, {"per_sub": per_subscription, "n": limit, "token": token,
                                       "paused": [str(p) for p in paused],
                                       "probing": [str(p) for p in probing]}).all()
    at = now()
    return [Job(r.delivery_id, r.subscription_id, r.event_id, r.url,
                secrets_of(r, at), json.dumps(as_cloudevent(r), ensure_ascii=False, separators=(",", ":"),
                                              default=str).encode(), r.attempts, r.queued_at, r.subscription_status,
                token)
            for r in rows]


_SECRETISH = re.compile(r"whsec_[A-Za-z0-9+/=]+|v1,[A-Za-z0-9+/=]{20,}")


def scrub(excerpt: str, secrets: list[str]) -> str:
    """A receiver's answer as logged: no secret and no signature, even if the receiver echoes them."""
    for s in secrets:
        excerpt = excerpt.replace(s, "[secret]").replace(s.removeprefix("whsec_"), "[secret]")
    return _SECRETISH.sub("[secret]", excerpt)


def backoff(attempts: int, base: float, cap: float, rng: random.Random = random) -> float:
    """Seconds before the next try: exponential, capped, with "equal jitter" (half fixed, half random)."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


@dataclass
class Outcome:
    state: str  # delivered | retry | failed | gone | lost (the row is no longer ours)
    newly_failing: bool = False
    owner_contact: str | None = None


@dataclass
class Result:
    """One attempt's answer, as the sender saw it."""
    job: Job
    status: int | None
    latency_ms: int
    excerpt: str
    error: str | None


def decide(job: Job, status: int | None, error: str | None, settings, at: datetime) -> tuple[str, dict]:
    """What an answer means for its delivery: the state and the row's new values."""
    why = error or f"HTTP {status}"
    if status is not None and 200 <= status < 300:
        return "delivered", {"status": "delivered", "last_error": None, "next_attempt_at": None}
    if status == 410:
        return "gone", {"status": "cancelled", "last_error": "410 Gone", "next_attempt_at": None}
    if at - job.created_at < timedelta(seconds=settings.webhook_retry_window_seconds):
        delay = backoff(job.attempts, settings.webhook_retry_base_seconds, settings.webhook_retry_cap_seconds)
        return "retry", {"status": "pending", "last_error": why[:500], "next_attempt_at": at + timedelta(seconds=delay)}
    return "failed", {"status": "failed", "last_error": why[:500], "next_attempt_at": None}


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


def finish_many(session: Session, results: list[Result], settings) -> list[Outcome]:
    """Record a batch of attempts and decide what follows each: one update of the deliveries, one
    insert of the attempts, and a statement per subscription whose state changes."""
    at = now()
    decided = [decide(r.job, r.status, r.error, settings, at) for r in results]
    mine = set(session.execute(FINISH_SQL, {
        "ids": [r.job.delivery_id for r in results], "tokens": [str(r.job.token) for r in results],
        "statuses": [v["status"] for _, v in decided], "codes": [r.status for r in results],
        "errors": [v["last_error"] for _, v in decided], "nexts": [v["next_attempt_at"] for _, v in decided],
    }).scalars())
    session.execute(insert(webhook_attempts), [
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
            disable(session, job.subscription_id, "the receiver answered 410 Gone")
        elif state == "failed":
            flipped = session.execute(update(subs).where(subs.c.id == job.subscription_id, subs.c.status == "active")
                                      .values(status="failing", status_changed_at=func.now(), status_reason=(
                                          f"a delivery failed for {settings.webhook_retry_window_seconds:g} s: "
                                          f"{values['last_error']}")[:500])
                                      .returning(subs.c.owner_contact)).first()
            outcomes.append(Outcome("failed", flipped is not None, flipped.owner_contact if flipped else None))
            continue
        outcomes.append(Outcome(state))
    if recovered:
        session.execute(update(subs).where(subs.c.id.in_(recovered), subs.c.status == "failing").values(
            status="active", status_reason=None, status_changed_at=func.now()))
    return outcomes


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


def expire(session: Session, window_seconds: float) -> list[tuple[uuid.UUID, str]]:
    """Fail every delivery still pending after the retry window, even one a paused subscription never
    got to try again; returns the subscriptions this newly marks failing, with their owners."""
    return [(r.id, r.owner_contact) for r in session.execute(EXPIRE_SQL, {"window": float(window_seconds)})]


# ---- the delivery log, resend, replay --------------------------------------------------------------

def deliveries(session: Session, sub_id: uuid.UUID, limit: int, before: int | None) -> list[dict]:
    q = select(webhook_deliveries.c.id, webhook_deliveries.c.event_id, public_events.c.type,
               webhook_deliveries.c.status, webhook_deliveries.c.attempts, webhook_deliveries.c.created_at,
               webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.delivered_at,
               webhook_deliveries.c.last_status, webhook_deliveries.c.last_error) \
        .join(public_events, public_events.c.id == webhook_deliveries.c.feed_id) \
        .where(webhook_deliveries.c.subscription_id == sub_id)
    if before:
        q = q.where(webhook_deliveries.c.id < before)
    out = []
    for r in session.execute(q.order_by(webhook_deliveries.c.id.desc()).limit(limit)).all():
        item = dict(r._mapping)
        item["attempt_log"] = [dict(a._mapping) for a in session.execute(
            select(webhook_attempts.c.at, webhook_attempts.c.status_code, webhook_attempts.c.latency_ms,
                   webhook_attempts.c.error, webhook_attempts.c.response_excerpt)
            .where(webhook_attempts.c.delivery_id == r.id).order_by(webhook_attempts.c.id))]
        out.append(item)
    return out


def resend(session: Session, sub_id: uuid.UUID, delivery_id: int) -> bool:
    """Send one delivery again (same webhook-id), whatever became of it."""
    return session.execute(update(webhook_deliveries).where(
        webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.subscription_id == sub_id,
        webhook_deliveries.c.status != "sending").values(
        status="pending", next_attempt_at=func.now(), created_at=func.now(), attempts=0)
        .returning(webhook_deliveries.c.id)).first() is not None


def replay(session: Session, sub_id: uuid.UUID, since: datetime, until: datetime) -> int:
    """Queue again every stored event of the subscription's types that occurred in [since, until)."""
    sub = session.execute(select(subs.c.event_types).where(subs.c.id == sub_id)).first()
    if sub is None:
        return 0
    rows = session.execute(select(public_events.c.id, public_events.c.event_id).where(
        wants(array(sub.event_types, type_=String), public_events.c.type, public_events.c.version),
        public_events.c.occurred_at >= since,
        public_events.c.occurred_at < until)).all()
    if not rows:
        return 0
    stmt = insert(webhook_deliveries).values([
        {"subscription_id": sub_id, "event_id": r.event_id, "feed_id": r.id, "status": "pending"} for r in rows])
    session.execute(stmt.on_conflict_do_update(
        index_elements=["subscription_id", "event_id"],
        set_={"status": "pending", "next_attempt_at": func.now(), "created_at": func.now(), "attempts": 0},
        where=webhook_deliveries.c.status != "sending"))
    return len(rows)
