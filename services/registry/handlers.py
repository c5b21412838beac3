"""The registry's units of work: each opens a transaction on the store, applies the rules, writes
the audit log and leaves its events in the outbox.

Every handler that acts for somebody takes the acting person's id and checks their roles here, in
the service that owns roles, whatever the gateway already checked. Functions whose first argument
is ``store`` run inside a transaction a handler opened; those taking ``uow`` open it.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from chassis import rate
from chassis.errors import Conflict, InvalidInput, NotFound
from chassis.workdays import local_today
from contracts.identity import Principal, Role, RoleOut, eligibility
from contracts.registry import ORGANISATION_KIND_LABELS
from contracts.registry import ApiKeyIn, ApiKeyIssued, ApiKeyList, ApiKeyOut, Bucket, KeyUse
from contracts.registry import (AuditEntry, Consent, ConsentGiven, DevLoginIn, IdentityIn, InterestedPage, InterestedPerson,
                                MeOut, MeUpdate, OrganisationIn, OrganisationOut, PersonErased, PersonRef,
                                PersonRegistered, PersonUpdated, RoleGrant, RoleGranted, RoleRevoked, SessionOut, SessionRevoked,
                                UnitIn, UnitOut)
from services.registry import rules
from services.registry.consent import CONSENT_VERSION
from services.registry.rules import now


# ---- persons and sessions -------------------------------------------------------------------------

def upsert_identity(store, identity: IdentityIn) -> PersonRef:
    """Create the person on first sight of their subject, refresh identity data afterwards.

    Contacts from the identity provider only fill empty fields: what the person set in the
    cabinet wins (R-2.4). ``person_registered`` goes into the outbox only for a new record.
    """
    new_id = uuid.uuid4()
    row = store.upsert_person(new_id, identity.model_dump())
    created = row.id == new_id
    if created:
        store.add_event(PersonRegistered(person_id=row.id, registered_at=row.created_at))
    return PersonRef(id=row.id, created=created)


def person(store, person_id: uuid.UUID, lock: bool = False):
    row = store.person(person_id, lock)
    if row is None:
        raise NotFound("Особу не знайдено", code="person_not_found")
    return row


def open_session(store, person_id: uuid.UUID, ttl: timedelta) -> SessionOut:
    p = person(store, person_id)
    sid = uuid.uuid4()
    expires = now() + ttl
    store.add_session(sid, person_id, expires)
    return SessionOut(session_id=sid, person_id=person_id, expires_at=expires, consent_required=not rules.consented(p))


def register(uow, identity: IdentityIn) -> PersonRef:
    with uow.transaction() as store:
        return upsert_identity(store, identity)


def login(uow, identity: IdentityIn, ttl: timedelta) -> SessionOut:
    """After the identity provider vouched for the person: upsert them and open a session."""
    with uow.transaction() as store:
        return open_session(store, upsert_identity(store, identity).id, ttl)


def revoke_session(uow, session_id: uuid.UUID) -> None:
    with uow.transaction() as store:
        person_id = store.revoke_session(session_id)
        if person_id is not None:  # the gateways drop the session from their caches (docs/identity.md)
            store.add_event(SessionRevoked(session_id=session_id, person_id=person_id))


def active_roles(store, person_id: uuid.UUID) -> list[RoleOut]:
    return rules.with_resident([RoleOut.model_validate(r) for r in store.active_roles(person_id)], now())


def principal(store, person_id: uuid.UUID, session_id: uuid.UUID | None = None) -> Principal:
    p = person(store, person_id)
    return Principal(person_id=p.id, session_id=session_id, full_name=p.full_name,
                     roles=active_roles(store, person_id),
                     eligibility=eligibility(p.birth_date, p.community_member, local_today()),
                     consent_given=rules.consented(p))


def resolve_session(store, session_id: uuid.UUID) -> Principal:
    row = store.session_principal(session_id)
    if row is None or not rules.session_open(row.session_revoked_at, row.session_expires_at, now()):
        raise NotFound("Сесія недійсна або завершилася", code="session_invalid")
    return Principal(person_id=row.id, session_id=session_id, full_name=row.full_name,
                     roles=rules.with_resident([RoleOut.model_validate(r) for r in row.active_roles], now()),
                     eligibility=eligibility(row.birth_date, row.community_member, local_today()),
                     consent_given=rules.consented(row))


def require(store, actor_id: uuid.UUID, *allowed: Role) -> Principal:
    """The actor, if they hold one of ``allowed``; else a typed refusal."""
    return rules.require_role(principal(store, actor_id), *allowed)


def audit(store, actor_id: uuid.UUID | None, action: str, person_id: uuid.UUID | None, **details) -> None:
    store.audit(actor_id, action, person_id, details)


# ---- the gateway's abuse limits -------------------------------------------------------------------

count_hits = rate.count_hits


def rate_hit(uow, buckets: list[Bucket], at: datetime) -> int:
    with uow.transaction() as store:
        return count_hits(store, buckets, at)


def resolve_and_hit(uow, session_id: uuid.UUID, buckets: list[Bucket], person_bucket: Bucket,
                    at: datetime) -> tuple[Principal | None, int]:
    """An authenticated write in one round trip: resolve the session and count the request in
    ``buckets`` and, when the session is valid, in the person's bucket (its key completed with the
    person's id). The principal is None for an invalid or revoked session."""
    with uow.transaction() as store:
        try:
            found = resolve_session(store, session_id)
        except NotFound:
            found = None
        else:
            buckets = [*buckets, person_bucket.model_copy(update={"key": person_bucket.key + str(found.person_id)})]
        return found, count_hits(store, buckets, at)


def resolve(uow, session_id: uuid.UUID) -> Principal:
    with uow.transaction() as store:
        return resolve_session(store, session_id)


# ---- the personal cabinet (R-2.4) ----------------------------------------------------------------

def me(store, person_id: uuid.UUID) -> MeOut:
    p = person(store, person_id)
    consent = (Consent(version=p.consent_version, given_at=p.consented_at,
                       withdrawn_at=p.consent_withdrawn_at) if p.consent_version else None)
    return MeOut(id=p.id, full_name=p.full_name, birth_date=p.birth_date, community_member=p.community_member,
                 eligibility=eligibility(p.birth_date, p.community_member, local_today()),
                 email=p.email, phone=p.phone, interests=list(p.interests), email_enabled=p.email_enabled,
                 email_mode=p.email_mode, consent=consent, roles=active_roles(store, person_id),
                 erased=p.erased_at is not None)


def read_me(uow, person_id: uuid.UUID) -> MeOut:
    with uow.transaction() as store:
        return me(store, person_id)


def give_consent(uow, person_id: uuid.UUID, version: str) -> MeOut:
    rules.check_consent_version(version)
    with uow.transaction() as store:
        person(store, person_id, lock=True)
        store.give_consent(person_id, version)
        audit(store, person_id, "consent_given", person_id, version=version)
        store.add_event(ConsentGiven(person_id=person_id, consent_version=version))
        return me(store, person_id)


def update_me(uow, person_id: uuid.UUID, change: MeUpdate) -> MeOut:
    with uow.transaction() as store:
        rules.require_consent(rules.consented(person(store, person_id, lock=True)))
        values = rules.profile_changes(change)
        if values:
            store.update_person(person_id, **values)
            store.add_event(PersonUpdated(person_id=person_id, fields=sorted(values)))
        return me(store, person_id)


def erase_me(uow, person_id: uuid.UUID) -> None:
    """Withdraw consent, erase contacts and interests at once, end every session (R-2.4).
    The name stays: published comments remain public with the author's name (R-3.5)."""
    with uow.transaction() as store:
        person(store, person_id, lock=True)
        at = now()
        store.update_person(person_id, email=None, phone=None, interests=[], email_enabled=False,
                            consent_withdrawn_at=at, erased_at=at, updated_at=at)
        store.revoke_sessions_of(person_id, at)
        audit(store, person_id, "erased", person_id)
        store.add_event(PersonErased(person_id=person_id, erased_at=at))


def audit_entries(store, person_id: uuid.UUID | None = None, limit: int = 500) -> list[AuditEntry]:
    return [AuditEntry.model_validate(r) for r in store.audit_entries(person_id, limit)]


def export_me(uow, person_id: uuid.UUID) -> dict:
    """Everything held about the person (R-2.4, the right to see one's data)."""
    with uow.transaction() as store:
        p = person(store, person_id)
        return {
            "person": {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in p._asdict().items()},
            "roles": [r.model_dump(mode="json") for r in active_roles(store, person_id)],
            "organisations_headed": [{"id": str(o.id), "name": o.name, "kind": o.kind,
                                      "confirmed_at": o.confirmed_at} for o in store.organisations_headed(person_id)],
            "sessions": [{"id": str(s.id), "created_at": s.created_at, "expires_at": s.expires_at,
                          "revoked_at": s.revoked_at} for s in store.sessions_of(person_id)],
            "audit": [e.model_dump(mode="json") for e in audit_entries(store, person_id=person_id)],
        }


# ---- roles, units, organisations (R-2.1, R-2.2) ---------------------------------------------------

def grant_role(uow, actor_id: uuid.UUID, person_id: uuid.UUID, grant: RoleGrant) -> RoleOut:
    with uow.transaction() as store:
        require(store, actor_id, Role.admin)
        person(store, person_id, lock=True)
        rules.check_grant(grant)
        if grant.unit_id and not store.unit_exists(grant.unit_id):
            raise InvalidInput("Немає такого підрозділу", code="unit_not_found",
                               errors=[{"field": "unit_id", "message": "невідомий підрозділ"}])
        if grant.organisation_id and not store.organisation_exists(grant.organisation_id):
            raise InvalidInput("Немає такої організації", code="organisation_not_found",
                               errors=[{"field": "organisation_id", "message": "невідома організація"}])
        return _grant(store, actor_id, person_id, grant)


def _grant(store, actor_id: uuid.UUID | None, person_id: uuid.UUID, grant: RoleGrant) -> RoleOut:
    if store.holds_role(person_id, grant.role.value, grant.unit_id, grant.organisation_id):
        raise Conflict("Цю роль уже надано", code="role_exists")
    role_id = uuid.uuid4()
    store.add_role(role_id, person_id, grant.role.value, grant.unit_id, grant.organisation_id, actor_id)
    audit(store, actor_id, "role_granted", person_id, role=grant.role.value, role_id=str(role_id),
          unit_id=str(grant.unit_id) if grant.unit_id else None,
          organisation_id=str(grant.organisation_id) if grant.organisation_id else None)
    store.add_event(RoleGranted(person_id=person_id, role=grant.role, unit_id=grant.unit_id,
                                organisation_id=grant.organisation_id, granted_by=actor_id))
    return next(r for r in active_roles(store, person_id) if r.id == role_id)


def revoke_role(uow, actor_id: uuid.UUID, person_id: uuid.UUID, role_id: uuid.UUID) -> None:
    with uow.transaction() as store:
        require(store, actor_id, Role.admin)
        row = store.active_role(role_id, person_id)
        if row is None:
            raise NotFound("Роль не знайдено", code="role_not_found")
        rules.check_revoke(row.person_id, row.role, actor_id)
        store.end_role(role_id, actor_id)
        audit(store, actor_id, "role_revoked", person_id, role=row.role, role_id=str(role_id))
        store.add_event(RoleRevoked(person_id=person_id, role=Role(row.role), role_id=role_id, revoked_by=actor_id))


def list_units(uow) -> list[UnitOut]:
    with uow.transaction() as store:
        return [UnitOut.model_validate(r._asdict()) for r in store.units()]


def add_unit(store, actor_id: uuid.UUID | None, unit: UnitIn) -> UnitOut:
    if actor_id is not None:
        require(store, actor_id, Role.admin)
    unit_id = uuid.uuid4()
    if not store.add_unit(unit_id, unit.model_dump()):
        raise Conflict("Підрозділ із такою назвою вже є", code="unit_exists")
    audit(store, actor_id, "unit_created", None, unit_id=str(unit_id), name=unit.name)
    return UnitOut(id=unit_id, **unit.model_dump())


def create_unit(uow, actor_id: uuid.UUID | None, unit: UnitIn) -> UnitOut:
    with uow.transaction() as store:
        return add_unit(store, actor_id, unit)


def _org_out(store, row) -> OrganisationOut:
    head = person(store, row.head_person_id)
    return OrganisationOut(id=row.id, name=row.name, kind=row.kind, kind_label=ORGANISATION_KIND_LABELS[row.kind],
                           edrpou=row.edrpou, head_person_id=row.head_person_id, head_name=head.full_name,
                           confirmed=row.confirmed_at is not None)


def register_organisation(uow, head_id: uuid.UUID, org: OrganisationIn) -> OrganisationOut:
    """A person files their institution (R-2.2) with its ЄДРПОУ code, naming themselves its head; an
    admin confirms it. One institution per code (409 for a second filing)."""
    with uow.transaction() as store:
        rules.require_consent(principal(store, head_id).consent_given)
        org_id = uuid.uuid4()
        if not store.add_organisation(org_id, org.name, org.kind.value, head_id, edrpou=org.edrpou):
            raise Conflict("Установу з таким кодом ЄДРПОУ вже зареєстровано", code="edrpou_taken",
                           errors=[{"field": "edrpou", "message": "уже зареєстровано"}])
        audit(store, head_id, "organisation_registered", head_id, organisation_id=str(org_id))
        return _org_out(store, store.organisation(org_id))


def confirm_organisation(uow, actor_id: uuid.UUID, org_id: uuid.UUID) -> OrganisationOut:
    with uow.transaction() as store:
        require(store, actor_id, Role.admin)
        row = store.organisation(org_id, lock=True)
        if row is None:
            raise NotFound("Організацію не знайдено", code="organisation_not_found")
        if row.confirmed_at is not None:
            raise Conflict("Організацію вже підтверджено", code="already_confirmed")
        store.confirm_organisation(org_id, actor_id)
        audit(store, actor_id, "organisation_confirmed", row.head_person_id, organisation_id=str(org_id))
        _grant(store, actor_id, row.head_person_id, RoleGrant(role=Role.institution_head, organisation_id=org_id))
        return _org_out(store, store.organisation(org_id))


def list_organisations(uow, actor_id: uuid.UUID | None = None) -> list[OrganisationOut]:
    """Confirmed organisations; an administrator also sees those waiting for confirmation."""
    with uow.transaction() as store:
        pending = actor_id is not None and principal(store, actor_id).has("admin")
        return [_org_out(store, r) for r in store.organisations(pending)]


# ---- administration -------------------------------------------------------------------------------

def admin_read_person(uow, actor_id: uuid.UUID, person_id: uuid.UUID) -> MeOut:
    """An administrator reads another person's data: allowed, and audited (R-2.4)."""
    with uow.transaction() as store:
        require(store, actor_id, Role.admin)
        result = me(store, person_id)
        audit(store, actor_id, "person_read", person_id)
        return result


def audit_log(uow, actor_id: uuid.UUID, person_id: uuid.UUID | None) -> list[AuditEntry]:
    with uow.transaction() as store:
        require(store, actor_id, Role.admin)
        return audit_entries(store, person_id=person_id)


def dev_login(uow, body: DevLoginIn, ttl: timedelta) -> SessionOut:
    """Log in as a made-up person with the chosen roles (only reachable when AUTH_DEV_LOGIN is on)."""
    with uow.transaction() as store:
        return open_session(store, dev_person(store, body).id, ttl)


def dev_person(store, body: DevLoginIn) -> PersonRef:
    """A made-up person with the chosen roles (the dev login and the demo data)."""
    ref = upsert_identity(store, IdentityIn(subject=body.subject, full_name=body.full_name,
                                            birth_date=body.birth_date, community_member=body.community_member))
    unit_id = None
    if body.unit:
        unit_id = store.unit_named(body.unit)
        if unit_id is None:
            unit_id = add_unit(store, None, UnitIn(name=body.unit)).id
    have = {(r.role, r.unit_id) for r in active_roles(store, ref.id)}
    for role in body.roles:
        if role == Role.resident:
            continue
        if role == Role.official and unit_id is None:
            raise InvalidInput("Для посадової особи вкажіть підрозділ", code="unit_required",
                               errors=[{"field": "unit", "message": "обов'язково для official"}])
        grant = RoleGrant(role=role, unit_id=unit_id if role == Role.official else None)
        if role == Role.institution_head:
            org_id = uuid.uuid4()
            store.add_organisation(org_id, f"ГО «{body.full_name}»", "ngo", ref.id, confirmed=True)
            grant = RoleGrant(role=role, organisation_id=org_id)
        if (role, grant.unit_id) not in have:
            _grant(store, None, ref.id, grant)
    if body.consent:
        store.consent_if_none(ref.id, CONSENT_VERSION)
    return ref


# ---- what other services read (R-1.10, R-2.4, R-3.4, R-3.16) --------------------------------------

def participant_profiles(uow, person_ids: list[uuid.UUID], on: date) -> list[dict]:
    """Full name and age band (no birth date) of each person, for the R-3.16 report."""
    with uow.transaction() as store:
        rows = store.names_and_birth_dates(person_ids)
    return [{"person_id": str(r.id), "full_name": r.full_name, "age_band": rules.age_band(r.birth_date, on)}
            for r in rows]


def interested_persons(uow, category: int, after: uuid.UUID | None, limit: int) -> InterestedPage:
    """One keyset page of persons to e-mail about a consultation in ``category``: those who chose
    it and those who chose none, consented, with an e-mail and e-mail switched on."""
    rules.check_category(category)
    with uow.transaction() as store:
        rows = store.interested(category, after, limit)
    items = [InterestedPerson(person_id=r.id, full_name=r.full_name, email=r.email, email_mode=r.email_mode)
             for r in rows]
    return InterestedPage(items=items, next_after=items[-1].person_id if len(items) == limit else None)


def mail_contacts(uow, person_ids: list[uuid.UUID]) -> dict[str, dict]:
    """Contacts for sending, fetched at send time (data minimisation): only persons who may still
    be e-mailed (consented, e-mail present and switched on)."""
    with uow.transaction() as store:
        return {str(r.id): {"full_name": r.full_name, "email": r.email} for r in store.mailable(person_ids)}


def unsubscribe(uow, person_id: uuid.UUID) -> bool:
    """One-click unsubscribe from e-mail (RFC 8058): the preference changes, audited and published."""
    with uow.transaction() as store:
        changed = store.switch_email_off(person_id)
        if changed:
            audit(store, person_id, "unsubscribed", person_id)
            store.add_event(PersonUpdated(person_id=person_id, fields=["email_enabled"]))
        return changed


# ---- partners' API keys (docs/webhooks.md, "API keys") ------------------------------------------------

def api_key_out(store, key_id: uuid.UUID) -> ApiKeyOut:
    row = store.api_key(key_id)
    if row is None:
        raise NotFound("Ключ не знайдено", code="api_key_not_found")
    return ApiKeyOut(**row._mapping)


def issue_api_key(uow, data: ApiKeyIn, admin_id: uuid.UUID | None) -> ApiKeyIssued:
    """A key for a named partner with read scopes, a per-key rate limit and an optional expiry:
    shown once, kept as a SHA-256."""
    key_id, (prefix, key) = uuid.uuid4(), rules.new_api_key()
    with uow.transaction() as store:
        store.add_api_key(id=key_id, partner=data.partner, prefix=prefix, key_hash=rules.api_key_digest(key),
                          scopes=[s.value for s in data.scopes], rate_per_minute=data.rate_per_minute,
                          expires_at=data.expires_at, created_by=admin_id)
        return ApiKeyIssued(**api_key_out(store, key_id).model_dump(), key=key)


def list_api_keys(uow) -> ApiKeyList:
    with uow.transaction() as store:
        return ApiKeyList(items=[ApiKeyOut(**r._mapping) for r in store.api_keys()])


def revoke_api_key(uow, key_id: uuid.UUID) -> ApiKeyOut:
    with uow.transaction() as store:
        store.revoke_api_key(key_id)
        return api_key_out(store, key_id)


def use_api_key(uow, key: str, scope: str, window: int = 60) -> KeyUse:
    """Check a presented key for ``scope`` and count the request against its rate."""
    at = now()
    with uow.transaction() as store:
        row = store.api_key_by_hash(rules.api_key_digest(key))
        rules.check_api_key(row, scope, at)
        wait = count_hits(store, [Bucket(key=f"apikey:{row.id}", limit=row.rate_per_minute, window=window)], at)
        if rules.api_key_use_stale(row.last_used_at, at):
            store.touch_api_key(row.id, at)
        return KeyUse(key_id=row.id, partner=row.partner, prefix=row.prefix, wait=wait)

