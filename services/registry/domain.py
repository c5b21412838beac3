"""Registry rules as plain functions over a SQLAlchemy session (no broker needed to test them).

Every function that acts for somebody takes the acting person's id and checks their roles here,
in the service that owns roles, whatever the gateway already checked (DESIGN, "Who sees what").
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from chassis.outbox import add_event
from chassis.workdays import local_today
from contracts.identity import Principal, Role, RoleOut, age_on, eligibility
from contracts.registry import (AuditEntry, Consent, DevLoginIn, EmailMode, IdentityIn, InterestedPage,
                                InterestedPerson, MeOut, MeUpdate, OrganisationIn, OrganisationOut,
                                PersonErased, PersonRef, PersonRegistered, PersonUpdated, RoleGrant,
                                RoleGranted, RoleRevoked, SessionOut, UnitIn, UnitOut)
from services.registry.consent import CONSENT_VERSION
from services.registry.models import audit_log, organisations, persons, roles, sessions, units

CATEGORY_CODES = range(1, 23)


def now() -> datetime:
    return datetime.now(timezone.utc)


# ---- eligibility (R-1.3) --------------------------------------------------------------------------

AGE_BANDS = ((14, 17, "14–17"), (18, 35, "18–35"), (36, 60, "36–60"), (61, 200, "60+"))  # report


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


def participant_profiles(session: Session, person_ids: list[uuid.UUID], on: date) -> list[dict]:
    """Full name and age band (no birth date) of each person, for the R-3.16 report."""
    rows = session.execute(select(persons.c.id, persons.c.full_name, persons.c.birth_date)
                           .where(persons.c.id.in_(person_ids))).all() if person_ids else []
    return [{"person_id": str(r.id), "full_name": r.full_name, "age_band": age_band(r.birth_date, on)}
            for r in rows]


# ---- persons and sessions -------------------------------------------------------------------------

def upsert_identity(session: Session, identity: IdentityIn) -> PersonRef:
    """Create the person on first sight of their subject, refresh identity data afterwards.

    Contacts from the identity provider only fill empty fields: what the person set in the
    cabinet wins (R-2.4). ``person_registered`` goes into the outbox only for a new record.
    """
    new_id = uuid.uuid4()
    values = identity.model_dump()
    refresh = {k: values[k] for k in ("full_name", "birth_date", "community_member")}
    # after an erasure the provider's contacts are not taken back in: the person adds them
    # again in the cabinet once they consent anew
    not_erased = persons.c.erased_at.is_(None)
    refresh.update(last_login_at=func.now(), updated_at=func.now(),
                   email=case((not_erased, func.coalesce(persons.c.email, values["email"])), else_=persons.c.email),
                   phone=case((not_erased, func.coalesce(persons.c.phone, values["phone"])), else_=persons.c.phone))
    row = session.execute(
        insert(persons).values(id=new_id, last_login_at=func.now(), **values)
        .on_conflict_do_update(index_elements=[persons.c.subject], set_=refresh)
        .returning(persons.c.id, persons.c.created_at)).one()
    created = row.id == new_id
    if created:
        add_event(session, PersonRegistered(person_id=row.id, registered_at=row.created_at))
    return PersonRef(id=row.id, created=created)


def _person(session: Session, person_id: uuid.UUID, lock: bool = False):
    stmt = select(persons).where(persons.c.id == person_id)
    row = session.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise NotFound("Особу не знайдено", code="person_not_found")
    return row


def open_session(session: Session, person_id: uuid.UUID, ttl: timedelta) -> SessionOut:
    person = _person(session, person_id)
    sid = uuid.uuid4()
    expires = now() + ttl
    session.execute(sessions.insert().values(id=sid, person_id=person_id, expires_at=expires))
    return SessionOut(session_id=sid, person_id=person_id, expires_at=expires,
                      consent_required=not _consented(person))


def revoke_session(session: Session, session_id: uuid.UUID) -> None:
    session.execute(update(sessions).where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
                    .values(revoked_at=func.now()))


def _consented(person) -> bool:
    return person.consent_version is not None and person.consent_withdrawn_at is None


def active_roles(session: Session, person_id: uuid.UUID) -> list[RoleOut]:
    rows = session.execute(
        select(roles.c.id, roles.c.role, roles.c.unit_id, units.c.name.label("unit_name"),
               roles.c.organisation_id, roles.c.granted_at)
        .select_from(roles.outerjoin(units, units.c.id == roles.c.unit_id))
        .where(roles.c.person_id == person_id, roles.c.revoked_at.is_(None))
        .order_by(roles.c.granted_at)).all()
    found = [RoleOut.model_validate(r._asdict()) for r in rows]
    if not any(r.role == Role.resident for r in found):  # everyone who logged in is a resident
        found.insert(0, RoleOut(id=uuid.UUID(int=0), role=Role.resident, granted_at=now()))
    return found


def principal(session: Session, person_id: uuid.UUID, session_id: uuid.UUID | None = None) -> Principal:
    person = _person(session, person_id)
    return Principal(person_id=person.id, session_id=session_id, full_name=person.full_name,
                     roles=active_roles(session, person_id),
                     eligibility=eligibility(person.birth_date, person.community_member, local_today()),
                     consent_given=_consented(person))


def resolve_session(session: Session, session_id: uuid.UUID) -> Principal:
    row = session.execute(select(sessions).where(sessions.c.id == session_id)).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now():
        raise NotFound("Сесія недійсна або завершилася", code="session_invalid")
    return principal(session, row.person_id, session_id)


def require(session: Session, actor_id: uuid.UUID, *allowed: Role) -> Principal:
    """The actor, if they hold one of ``allowed``; else a typed refusal."""
    actor = principal(session, actor_id)
    if not any(actor.has(r) for r in allowed):
        raise Forbidden("Недостатньо повноважень", code="role_required")
    return actor


def audit(session: Session, actor_id: uuid.UUID | None, action: str, person_id: uuid.UUID | None,
          **details) -> None:
    session.execute(audit_log.insert().values(actor_id=actor_id, action=action, person_id=person_id,
                                              details=details))


# ---- the personal cabinet (R-2.4) ----------------------------------------------------------------

def me(session: Session, person_id: uuid.UUID) -> MeOut:
    p = _person(session, person_id)
    consent = (Consent(version=p.consent_version, given_at=p.consented_at,
                       withdrawn_at=p.consent_withdrawn_at) if p.consent_version else None)
    return MeOut(id=p.id, full_name=p.full_name, birth_date=p.birth_date,
                 community_member=p.community_member,
                 eligibility=eligibility(p.birth_date, p.community_member, local_today()),
                 email=p.email, phone=p.phone, interests=list(p.interests), email_enabled=p.email_enabled,
                 email_mode=p.email_mode,
                 consent=consent, roles=active_roles(session, person_id), erased=p.erased_at is not None)


def give_consent(session: Session, person_id: uuid.UUID, version: str) -> MeOut:
    if version != CONSENT_VERSION:
        raise InvalidInput("Погодьтеся з чинною редакцією згоди", code="consent_version_outdated",
                           errors=[{"field": "version", "message": f"чинна редакція: {CONSENT_VERSION}"}])
    _person(session, person_id, lock=True)
    session.execute(update(persons).where(persons.c.id == person_id).values(
        consent_version=version, consented_at=func.now(), consent_withdrawn_at=None, erased_at=None,
        updated_at=func.now()))
    audit(session, person_id, "consent_given", person_id, version=version)
    return me(session, person_id)


def update_me(session: Session, person_id: uuid.UUID, change: MeUpdate) -> MeOut:
    p = _person(session, person_id, lock=True)
    if not _consented(p):
        raise Forbidden("Спершу надайте згоду на обробку персональних даних", code="consent_required")
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
    if values:
        session.execute(update(persons).where(persons.c.id == person_id)
                        .values(**values, updated_at=func.now()))
        add_event(session, PersonUpdated(person_id=person_id, fields=sorted(values)))
    return me(session, person_id)


def erase_me(session: Session, person_id: uuid.UUID) -> None:
    """Withdraw consent, erase contacts and interests at once, end every session (R-2.4).
    The name stays: published comments remain public with the author's name (R-3.5)."""
    _person(session, person_id, lock=True)
    at = now()
    session.execute(update(persons).where(persons.c.id == person_id).values(
        email=None, phone=None, interests=[], email_enabled=False, consent_withdrawn_at=at,
        erased_at=at, updated_at=at))
    session.execute(update(sessions).where(sessions.c.person_id == person_id,
                                           sessions.c.revoked_at.is_(None)).values(revoked_at=at))
    audit(session, person_id, "erased", person_id)
    add_event(session, PersonErased(person_id=person_id, erased_at=at))


def export_me(session: Session, person_id: uuid.UUID) -> dict:
    """Everything held about the person (R-2.4, the right to see one's data)."""
    p = _person(session, person_id)
    own_sessions = session.execute(select(sessions.c.id, sessions.c.created_at, sessions.c.expires_at,
                                          sessions.c.revoked_at)
                                   .where(sessions.c.person_id == person_id)
                                   .order_by(sessions.c.created_at)).all()
    orgs = session.execute(select(organisations).where(organisations.c.head_person_id == person_id)).all()
    return {
        "person": {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in p._asdict().items()},
        "roles": [r.model_dump(mode="json") for r in active_roles(session, person_id)],
        "organisations_headed": [{"id": str(o.id), "name": o.name, "kind": o.kind,
                                  "confirmed_at": o.confirmed_at} for o in orgs],
        "sessions": [{"id": str(s.id), "created_at": s.created_at, "expires_at": s.expires_at,
                      "revoked_at": s.revoked_at} for s in own_sessions],
        "audit": [e.model_dump(mode="json") for e in audit_entries(session, person_id=person_id)],
    }


# ---- roles, units, organisations (R-2.1, R-2.2) ---------------------------------------------------

def grant_role(session: Session, actor_id: uuid.UUID, person_id: uuid.UUID, grant: RoleGrant) -> RoleOut:
    require(session, actor_id, Role.admin)
    _person(session, person_id, lock=True)
    if grant.role == Role.official and grant.unit_id is None:
        raise InvalidInput("Для посадової особи вкажіть структурний підрозділ", code="unit_required",
                           errors=[{"field": "unit_id", "message": "обов'язково для official"}])
    if grant.role == Role.institution_head and grant.organisation_id is None:
        raise InvalidInput("Вкажіть інститут громадянського суспільства", code="organisation_required",
                           errors=[{"field": "organisation_id", "message": "обов'язково для institution_head"}])
    if grant.unit_id and not session.execute(select(units.c.id).where(units.c.id == grant.unit_id)).first():
        raise InvalidInput("Немає такого підрозділу", code="unit_not_found",
                           errors=[{"field": "unit_id", "message": "невідомий підрозділ"}])
    if grant.organisation_id and not session.execute(
            select(organisations.c.id).where(organisations.c.id == grant.organisation_id)).first():
        raise InvalidInput("Немає такої організації", code="organisation_not_found",
                           errors=[{"field": "organisation_id", "message": "невідома організація"}])
    return _grant(session, actor_id, person_id, grant)


def _grant(session: Session, actor_id: uuid.UUID | None, person_id: uuid.UUID, grant: RoleGrant) -> RoleOut:
    existing = session.execute(select(roles.c.id).where(
        roles.c.person_id == person_id, roles.c.role == grant.role.value, roles.c.revoked_at.is_(None),
        roles.c.unit_id.is_(grant.unit_id) if grant.unit_id is None else roles.c.unit_id == grant.unit_id,
        roles.c.organisation_id.is_(None) if grant.organisation_id is None
        else roles.c.organisation_id == grant.organisation_id)).first()
    if existing:
        raise Conflict("Цю роль уже надано", code="role_exists")
    role_id = uuid.uuid4()
    session.execute(roles.insert().values(id=role_id, person_id=person_id, role=grant.role.value,
                                          unit_id=grant.unit_id, organisation_id=grant.organisation_id,
                                          granted_by=actor_id))
    audit(session, actor_id, "role_granted", person_id, role=grant.role.value, role_id=str(role_id),
          unit_id=str(grant.unit_id) if grant.unit_id else None,
          organisation_id=str(grant.organisation_id) if grant.organisation_id else None)
    add_event(session, RoleGranted(person_id=person_id, role=grant.role, unit_id=grant.unit_id,
                                   organisation_id=grant.organisation_id, granted_by=actor_id))
    return next(r for r in active_roles(session, person_id) if r.id == role_id)


def revoke_role(session: Session, actor_id: uuid.UUID, person_id: uuid.UUID, role_id: uuid.UUID) -> None:
    require(session, actor_id, Role.admin)
    row = session.execute(select(roles).where(roles.c.id == role_id, roles.c.person_id == person_id,
                                              roles.c.revoked_at.is_(None)).with_for_update()).first()
    if row is None:
        raise NotFound("Роль не знайдено", code="role_not_found")
    if row.person_id == actor_id and row.role == Role.admin.value:
        raise Conflict("Адміністратор не може зняти роль із себе", code="self_revoke")
    session.execute(update(roles).where(roles.c.id == role_id).values(revoked_at=func.now(),
                                                                      revoked_by=actor_id))
    audit(session, actor_id, "role_revoked", person_id, role=row.role, role_id=str(role_id))
    add_event(session, RoleRevoked(person_id=person_id, role=Role(row.role), role_id=role_id,
                                   revoked_by=actor_id))


def list_units(session: Session) -> list[UnitOut]:
    return [UnitOut.model_validate(r._asdict()) for r in
            session.execute(select(units.c.id, units.c.name, units.c.head_name).order_by(units.c.name))]


def create_unit(session: Session, actor_id: uuid.UUID | None, unit: UnitIn) -> UnitOut:
    if actor_id is not None:
        require(session, actor_id, Role.admin)
    unit_id = uuid.uuid4()
    row = session.execute(insert(units).values(id=unit_id, **unit.model_dump())
                          .on_conflict_do_nothing(index_elements=[units.c.name]).returning(units.c.id)).first()
    if row is None:
        raise Conflict("Підрозділ із такою назвою вже є", code="unit_exists")
    audit(session, actor_id, "unit_created", None, unit_id=str(unit_id), name=unit.name)
    return UnitOut(id=unit_id, **unit.model_dump())


def _org_out(session: Session, row) -> OrganisationOut:
    head = _person(session, row.head_person_id)
    return OrganisationOut(id=row.id, name=row.name, kind=row.kind, head_person_id=row.head_person_id,
                           head_name=head.full_name, confirmed=row.confirmed_at is not None)


def register_organisation(session: Session, head_id: uuid.UUID, org: OrganisationIn) -> OrganisationOut:
    """A person files their institution (R-2.2) naming themselves its head; an admin confirms it."""
    head = principal(session, head_id)
    if not head.consent_given:
        raise Forbidden("Спершу надайте згоду на обробку персональних даних", code="consent_required")
    org_id = uuid.uuid4()
    session.execute(organisations.insert().values(id=org_id, name=org.name, kind=org.kind.value,
                                                  head_person_id=head_id))
    audit(session, head_id, "organisation_registered", head_id, organisation_id=str(org_id))
    return _org_out(session, session.execute(select(organisations).where(organisations.c.id == org_id)).one())


def confirm_organisation(session: Session, actor_id: uuid.UUID, org_id: uuid.UUID) -> OrganisationOut:
    require(session, actor_id, Role.admin)
    row = session.execute(select(organisations).where(organisations.c.id == org_id).with_for_update()).first()
    if row is None:
        raise NotFound("Організацію не знайдено", code="organisation_not_found")
    if row.confirmed_at is not None:
        raise Conflict("Організацію вже підтверджено", code="already_confirmed")
    session.execute(update(organisations).where(organisations.c.id == org_id)
                    .values(confirmed_at=func.now(), confirmed_by=actor_id))
    audit(session, actor_id, "organisation_confirmed", row.head_person_id, organisation_id=str(org_id))
    _grant(session, actor_id, row.head_person_id,
           RoleGrant(role=Role.institution_head, organisation_id=org_id))
    return _org_out(session, session.execute(select(organisations).where(organisations.c.id == org_id)).one())


def list_organisations(session: Session, include_pending: bool = False) -> list[OrganisationOut]:
    stmt = select(organisations).order_by(organisations.c.name)
    if not include_pending:
        stmt = stmt.where(organisations.c.confirmed_at.is_not(None))
    return [_org_out(session, r) for r in session.execute(stmt)]


# ---- administration -------------------------------------------------------------------------------

def admin_read_person(session: Session, actor_id: uuid.UUID, person_id: uuid.UUID) -> MeOut:
    """An administrator reads another person's data: allowed, and audited (R-2.4)."""
    require(session, actor_id, Role.admin)
    result = me(session, person_id)
    audit(session, actor_id, "person_read", person_id)
    return result


def audit_entries(session: Session, person_id: uuid.UUID | None = None, limit: int = 500) -> list[AuditEntry]:
    stmt = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if person_id is not None:
        stmt = stmt.where(or_(audit_log.c.person_id == person_id, audit_log.c.actor_id == person_id))
    return [AuditEntry.model_validate(r._asdict()) for r in session.execute(stmt)]


def dev_login(session: Session, body: DevLoginIn) -> PersonRef:
    """A made-up person with the chosen roles (only reachable when AUTH_DEV_LOGIN is on)."""
    ref = upsert_identity(session, IdentityIn(subject=body.subject, full_name=body.full_name,
                                              birth_date=body.birth_date,
                                              community_member=body.community_member))
    unit_id = None
    if body.unit:
        unit_id = session.execute(select(units.c.id).where(units.c.name == body.unit)).scalar()
        if unit_id is None:
            unit_id = create_unit(session, None, UnitIn(name=body.unit)).id
    have = {(r.role, r.unit_id) for r in active_roles(session, ref.id)}
    for role in body.roles:
        if role == Role.resident:
            continue
        if role == Role.official and unit_id is None:
            raise InvalidInput("Для посадової особи вкажіть підрозділ", code="unit_required",
                               errors=[{"field": "unit", "message": "обов'язково для official"}])
        grant = RoleGrant(role=role, unit_id=unit_id if role == Role.official else None)
        if role == Role.institution_head:
            org_id = uuid.uuid4()
            session.execute(organisations.insert().values(
                id=org_id, name=f"ГО «{body.full_name}»", kind="ngo", head_person_id=ref.id,
                confirmed_at=func.now()))
            grant = RoleGrant(role=role, organisation_id=org_id)
        if (role, grant.unit_id) not in have:
            _grant(session, None, ref.id, grant)
    if body.consent:
        session.execute(update(persons).where(persons.c.id == ref.id, persons.c.consent_version.is_(None))
                        .values(consent_version=CONSENT_VERSION, consented_at=func.now()))
    return ref


# ---- the register of interested persons (R-1.10, R-2.4, R-3.4) ------------------------------------

def interested_persons(session: Session, category: int, after: uuid.UUID | None, limit: int) -> InterestedPage:
    """One keyset page of persons to e-mail about a consultation in ``category``: those who chose
    it and those who chose none, consented, with an e-mail and e-mail switched on."""
    if category not in CATEGORY_CODES:
        raise InvalidInput("Невідома тематика", code="unknown_category",
                           errors=[{"field": "category", "message": "1–22"}])
    cond = [persons.c.email.is_not(None), persons.c.email_enabled, persons.c.consent_version.is_not(None),
            persons.c.consent_withdrawn_at.is_(None),
            or_(func.cardinality(persons.c.interests) == 0, persons.c.interests.contains([category]))]
    if after is not None:
        cond.append(persons.c.id > after)
    rows = session.execute(select(persons.c.id, persons.c.full_name, persons.c.email, persons.c.email_mode)
                           .where(and_(*cond)).order_by(persons.c.id).limit(limit)).all()
    items = [InterestedPerson(person_id=r.id, full_name=r.full_name, email=r.email, email_mode=r.email_mode)
             for r in rows]
    return InterestedPage(items=items, next_after=items[-1].person_id if len(items) == limit else None)


def mail_contacts(session: Session, person_ids: list[uuid.UUID]) -> dict[str, dict]:
    """Contacts for sending, fetched at send time (data minimisation): only persons who may still
    be e-mailed (consented, e-mail present and switched on)."""
    rows = session.execute(select(persons.c.id, persons.c.full_name, persons.c.email).where(
        persons.c.id.in_(person_ids), persons.c.email.is_not(None), persons.c.email_enabled,
        persons.c.consent_version.is_not(None), persons.c.consent_withdrawn_at.is_(None))).all()
    return {str(r.id): {"full_name": r.full_name, "email": r.email} for r in rows}


def unsubscribe(session: Session, person_id: uuid.UUID) -> bool:
    """One-click unsubscribe from e-mail (RFC 8058): the preference changes, audited and published."""
    changed = session.execute(update(persons).where(persons.c.id == person_id, persons.c.email_enabled)
                              .values(email_enabled=False, updated_at=func.now()).returning(persons.c.id)).first()
    if changed:
        audit(session, person_id, "unsubscribed", person_id)
        add_event(session, PersonUpdated(person_id=person_id, fields=["email_enabled"]))
    return changed is not None
