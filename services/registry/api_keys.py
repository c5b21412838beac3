"""API keys for partner systems (docs/webhooks.md, "API keys"): issued by administrators to a named
partner with read scopes, a per-key rate limit (the registry's request counters), an optional
expiry; shown once, stored as a SHA-256, revocable. Plain functions and contracts."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from chassis.errors import Forbidden, NotFound
from contracts.registry import ApiKeyIn, ApiKeyIssued, ApiKeyList, ApiKeyOut, KeyUse, Scope  # noqa: F401
from services.registry import handlers, throttle
from services.registry.api_key_models import api_keys
from services.registry.store import Store

PREFIX = "ek_"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(session: Session, data: ApiKeyIn, admin_id: uuid.UUID | None) -> ApiKeyIssued:
    key_id, short = uuid.uuid4(), secrets.token_hex(4)
    key = f"{PREFIX}{short}_{secrets.token_urlsafe(32)}"
    session.execute(api_keys.insert().values(
        id=key_id, partner=data.partner, prefix=PREFIX + short, key_hash=digest(key),
        scopes=[s.value for s in data.scopes], rate_per_minute=data.rate_per_minute, expires_at=data.expires_at,
        created_by=admin_id))
    return ApiKeyIssued(**get(session, key_id).model_dump(), key=key)


def get(session: Session, key_id: uuid.UUID) -> ApiKeyOut:
    row = session.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise NotFound("Ключ не знайдено", code="api_key_not_found")
    return ApiKeyOut(**row._mapping)


def listing(session: Session) -> ApiKeyList:
    return ApiKeyList(items=[ApiKeyOut(**r._mapping) for r in session.execute(
        select(api_keys).order_by(api_keys.c.created_at))])


def revoke(session: Session, key_id: uuid.UUID) -> ApiKeyOut:
    session.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                    .values(revoked_at=func.now()))
    return get(session, key_id)


def use(session: Session, key: str, scope: str, window: int = 60) -> KeyUse:
    """Check a presented key for ``scope`` and count the request against its rate.
    Unknown, revoked or expired: NotFound (the gateway answers 401); no such scope: Forbidden."""
    now = datetime.now(timezone.utc)
    row = session.execute(select(api_keys).where(api_keys.c.key_hash == digest(key))).first()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise NotFound("Ключ API недійсний, відкликаний або прострочений", code="api_key_invalid")
    if scope not in row.scopes:
        raise Forbidden(f"Ключ не має дозволу {scope}", code="api_key_scope",
                        errors=[{"field": "scope", "message": f"потрібен {scope}"}])
    wait = handlers.count_hits(Store(session), [throttle.Bucket(key=f"apikey:{row.id}", limit=row.rate_per_minute,
                                                                window=window)], now)
    if row.last_used_at is None or now - row.last_used_at > timedelta(seconds=60):
        session.execute(update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=now))
    return KeyUse(key_id=row.id, partner=row.partner, prefix=row.prefix, wait=wait)
