"""Registry rules as pure functions (R-1.13, R-2.1, R-2.2, R-2.4, R-3.16): no database, no broker."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import date, datetime, timedelta, timezone

from chassis import rate
from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from contracts.identity import Principal, Role, RoleOut, age_on
from contracts.registry import EmailMode, MeUpdate, RoleGrant
from services.registry.consent import CONSENT_VERSION

CATEGORY_CODES = range(1, 23)
AGE_BANDS = ((14, 17, "14–17"), (18, 35, "18–35"), (36, 60, "36–60"), (61, 200, "60+"))  # report
RESIDENT = uuid.UUID(int=0)  # the id of the role everyone who logged in holds without a grant


def now() -> datetime:
    return datetime.now(timezone.utc)


# ---- the report's age bands (R-3.16; eligibility, R-1.3, is contracts.identity.eligibility) --------

def age_band(birth: date | None, on: date) -> str:
    """The report's representativeness band (14–17, 18–35, 36–60, 60+) on a day; ``unknown`` without
    a birth date, ``under_14`` below the participation age. Birth dates never leave the registry."""
    if birth is None:
        return "unknown"
    age = age_on(birth, on)
    for low, high, name in AGE_BANDS:
        if low <= age <= high:
            return name
    return "under_14"


# ---- consent and the cabinet (R-2.4) --------------------------------------------------------------

def consented(person) -> bool:
    return person.consent_version is not None and person.consent_withdrawn_at is None


def check_consent_version(version: str) -> None:
    if version != CONSENT_VERSION:
        raise InvalidInput("Погодьтеся з чинною редакцією згоди", code="consent_version_outdated",
                           errors=[{"field": "version", "message": f"чинна редакція: {CONSENT_VERSION}"}])


def require_consent(given: bool) -> None:
    if not given:
        raise Forbidden("Спершу надайте згоду на обробку персональних даних", code="consent_required")


def profile_changes(change: MeUpdate) -> dict:
    """The columns a cabinet update sets: interests known (R-1.13), sorted and once each; omitted and
    null switches and interests left as they are."""
    values = change.model_dump(exclude_unset=True)
    if "interests" in values and values["interests"] is not None:
        bad = [c for c in values["interests"] if c not in CATEGORY_CODES]
        if bad:
            raise InvalidInput("Невідома тематика", code="unknown_category",
                               errors=[{"field": "interests", "message": f"немає тематик {bad}; є 1–22"}])
        values["interests"] = sorted(set(values["interests"]))
    for key in ("email_enabled", "email_mode"):
        if values.get(key) is None:
            values.pop(key, None)
    if "email_mode" in values:
        values["email_mode"] = EmailMode(values["email_mode"]).value
    if values.get("interests") is None:
        values.pop("interests", None)
    return values


def check_category(category: int) -> None:
    if category not in CATEGORY_CODES:
        raise InvalidInput("Невідома тематика", code="unknown_category",
                           errors=[{"field": "category", "message": "1–22"}])


# ---- roles (R-2.1, R-2.2) -------------------------------------------------------------------------

def with_resident(found: list[RoleOut], at: datetime) -> list[RoleOut]:
    """Everyone who logged in is a resident, granted or not."""
    if not any(r.role == Role.resident for r in found):
        return [RoleOut(id=RESIDENT, role=Role.resident, granted_at=at), *found]
    return found


def require_role(actor: Principal, *allowed: Role) -> Principal:
    """The actor, if they hold one of ``allowed``; else a typed refusal."""
    if not any(actor.has(r) for r in allowed):
        raise Forbidden("Недостатньо повноважень", code="role_required")
    return actor


def check_grant(grant: RoleGrant) -> None:
    """An official belongs to a unit; an institution head heads an organisation."""
    if grant.role == Role.official and grant.unit_id is None:
        raise InvalidInput("Для посадової особи вкажіть структурний підрозділ", code="unit_required",
                           errors=[{"field": "unit_id", "message": "обов'язково для official"}])
    if grant.role == Role.institution_head and grant.organisation_id is None:
        raise InvalidInput("Вкажіть інститут громадянського суспільства", code="organisation_required",
                           errors=[{"field": "organisation_id", "message": "обов'язково для institution_head"}])


def check_revoke(role_holder: uuid.UUID, role: str, actor_id: uuid.UUID) -> None:
    if role_holder == actor_id and role == Role.admin.value:
        raise Conflict("Адміністратор не може зняти роль із себе", code="self_revoke")


def session_open(revoked_at: datetime | None, expires_at: datetime, at: datetime) -> bool:
    return revoked_at is None and expires_at > at


# ---- the gateway's abuse limits -------------------------------------------------------------------

window_start, wait_seconds = rate.window_start, rate.wait_seconds  # chassis.rate: shared with consultations


# ---- partners' API keys ---------------------------------------------------------------------------

API_KEY_PREFIX = "ek_"
API_KEY_TOUCH = timedelta(seconds=60)  # a key's last use is written at most this often


def api_key_digest(key: str) -> str:
    """What is kept of a key: a SHA-256 (a key is 32 random bytes, so a plain hash cannot be
    reversed by guessing; no slow hash needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """(the prefix shown in lists and logs, the whole key shown once)."""
    prefix = API_KEY_PREFIX + secrets.token_hex(4)
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def looks_like_api_key(key) -> bool:
    return isinstance(key, str) and key.startswith(API_KEY_PREFIX) and len(key) <= 200


def check_api_key(row, scope: str, at: datetime) -> None:
    """Unknown, revoked or expired: NotFound (the gateway answers 401); no such scope: Forbidden."""
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= at):
        raise NotFound("Ключ API недійсний, відкликаний або прострочений", code="api_key_invalid")
    if scope not in row.scopes:
        raise Forbidden(f"Ключ не має дозволу {scope}", code="api_key_scope",
                        errors=[{"field": "scope", "message": f"потрібен {scope}"}])


def api_key_use_stale(last_used_at: datetime | None, at: datetime) -> bool:
    return last_used_at is None or at - last_used_at > API_KEY_TOUCH

