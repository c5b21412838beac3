"""All SQL of the registry service (persons, sessions, roles, units, organisations, the audit log,
the request counters, partners' API keys)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from chassis.rate import Counters
from chassis.store import SqlStore
from services.registry.api_key_models import api_keys
from services.registry.models import audit_log, organisations, persons, rate_counters, roles, sessions, units


# one more hit in a window, atomic under concurrency (built once: building it per request cost more
# CPU than running it)
_COUNTERS = Counters(rate_counters)


# What a session resolves to, in one statement: the session, its person and the person's active
# roles (a JSON array, oldest grant first). A request's session lookup made three before.
_SESSION_PRINCIPAL = text("""
    SELECT s.revoked_at AS session_revoked_at, s.expires_at AS session_expires_at, p.*,
           (SELECT coalesce(json_agg(r ORDER BY r.granted_at), '[]'::json) FROM (
                SELECT ro.id, ro.role, ro.unit_id, u.name AS unit_name, ro.organisation_id,
                       o.name AS organisation_name, o.kind AS organisation_kind, ro.granted_at
                FROM roles ro LEFT JOIN units u ON u.id = ro.unit_id
                              LEFT JOIN organisations o ON o.id = ro.organisation_id
                WHERE ro.person_id = p.id AND ro.revoked_at IS NULL) AS r) AS active_roles
    FROM sessions s JOIN persons p ON p.id = s.person_id
    WHERE s.id = :session_id""")


class Store(SqlStore):
    # ---- persons ---------------------------------------------------------------------------------
    def upsert_person(self, new_id: uuid.UUID, values: dict):
        """Insert the person of ``values["subject"]`` as ``new_id``, or refresh name, birth date and
        membership of the one already there. Contacts from the identity provider only fill empty
        fields, and never those of an erased person (R-2.4). Returns ``(id, created_at)``."""
        refresh = {k: values[k] for k in ("full_name", "birth_date", "community_member")}
        not_erased = persons.c.erased_at.is_(None)
        refresh.update(last_login_at=func.now(), updated_at=func.now(),
                       email=case((not_erased, func.coalesce(persons.c.email, values["email"])),
                                  else_=persons.c.email),
                       phone=case((not_erased, func.coalesce(persons.c.phone, values["phone"])),
                                  else_=persons.c.phone))
        return self.session.execute(
            insert(persons).values(id=new_id, last_login_at=func.now(), **values)
            .on_conflict_do_update(index_elements=[persons.c.subject], set_=refresh)
            .returning(persons.c.id, persons.c.created_at)).one()

    def person(self, person_id: uuid.UUID, lock: bool = False):
        stmt = select(persons).where(persons.c.id == person_id)
        return self.session.execute(stmt.with_for_update() if lock else stmt).first()

    def update_person(self, person_id: uuid.UUID, **values) -> None:
        """Set columns of a person; ``updated_at`` is the transaction's time unless given."""
        values.setdefault("updated_at", func.now())
        self.session.execute(update(persons).where(persons.c.id == person_id).values(**values))

    def give_consent(self, person_id: uuid.UUID, version: str) -> None:
        self.update_person(person_id, consent_version=version, consented_at=func.now(), consent_withdrawn_at=None,
                           erased_at=None)

    def consent_if_none(self, person_id: uuid.UUID, version: str) -> None:
        self.session.execute(update(persons).where(persons.c.id == person_id, persons.c.consent_version.is_(None))
                             .values(consent_version=version, consented_at=func.now()))

    def switch_email_off(self, person_id: uuid.UUID) -> bool:
        """False when e-mail was already off (or there is no such person)."""
        return self.session.execute(update(persons).where(persons.c.id == person_id, persons.c.email_enabled)
                                    .values(email_enabled=False, updated_at=func.now())
                                    .returning(persons.c.id)).first() is not None

    def names_and_birth_dates(self, person_ids: list[uuid.UUID]) -> list:
        if not person_ids:
            return []
        return self.session.execute(select(persons.c.id, persons.c.full_name, persons.c.birth_date)
                                    .where(persons.c.id.in_(person_ids))).all()

    def interested(self, category: int, after: uuid.UUID | None, limit: int) -> list:
        """Persons to e-mail about ``category`` (keyset by id): those who chose it or chose none,
        consented, with an e-mail and e-mail switched on."""
        cond = [persons.c.email.is_not(None), persons.c.email_enabled, persons.c.consent_version.is_not(None),
                persons.c.consent_withdrawn_at.is_(None),
                or_(func.cardinality(persons.c.interests) == 0, persons.c.interests.contains([category]))]
        if after is not None:
            cond.append(persons.c.id > after)
        return self.session.execute(select(persons.c.id, persons.c.full_name, persons.c.email, persons.c.email_mode)
                                    .where(and_(*cond)).order_by(persons.c.id).limit(limit)).all()

    def mailable(self, person_ids: list[uuid.UUID]) -> list:
        """Name and e-mail of those of ``person_ids`` who may still be e-mailed."""
        return self.session.execute(select(persons.c.id, persons.c.full_name, persons.c.email).where(
            persons.c.id.in_(person_ids), persons.c.email.is_not(None), persons.c.email_enabled,
            persons.c.consent_version.is_not(None), persons.c.consent_withdrawn_at.is_(None))).all()

    # ---- sessions --------------------------------------------------------------------------------
    def add_session(self, session_id: uuid.UUID, person_id: uuid.UUID, expires_at: datetime) -> None:
        self.session.execute(sessions.insert().values(id=session_id, person_id=person_id, expires_at=expires_at))

    def session_principal(self, session_id: uuid.UUID):
        """The session (``session_revoked_at``, ``session_expires_at``), its person's columns and
        their ``active_roles`` (dicts), or None."""
        return self.session.execute(_SESSION_PRINCIPAL, {"session_id": session_id}).first()

    def revoke_session(self, session_id: uuid.UUID) -> uuid.UUID | None:
        """The session's person, if it was still open."""
        return self.session.execute(update(sessions).where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
                                    .values(revoked_at=func.now()).returning(sessions.c.person_id)).scalar()

    def revoke_sessions_of(self, person_id: uuid.UUID, at: datetime) -> None:
        self.session.execute(update(sessions).where(sessions.c.person_id == person_id,
                                                    sessions.c.revoked_at.is_(None)).values(revoked_at=at))

    def sessions_of(self, person_id: uuid.UUID) -> list:
        return self.session.execute(select(sessions.c.id, sessions.c.created_at, sessions.c.expires_at,
                                           sessions.c.revoked_at)
                                    .where(sessions.c.person_id == person_id)
                                    .order_by(sessions.c.created_at)).all()

    # ---- roles -----------------------------------------------------------------------------------
    def active_roles(self, person_id: uuid.UUID) -> list[dict]:
        return [r._asdict() for r in self.session.execute(
            select(roles.c.id, roles.c.role, roles.c.unit_id, units.c.name.label("unit_name"),
                   roles.c.organisation_id, organisations.c.name.label("organisation_name"),
                   organisations.c.kind.label("organisation_kind"), roles.c.granted_at)
            .select_from(roles.outerjoin(units, units.c.id == roles.c.unit_id)
                         .outerjoin(organisations, organisations.c.id == roles.c.organisation_id))
            .where(roles.c.person_id == person_id, roles.c.revoked_at.is_(None))
            .order_by(roles.c.granted_at)).all()]

    def holds_role(self, person_id: uuid.UUID, role: str, unit_id, organisation_id) -> bool:
        return self.session.execute(select(roles.c.id).where(
            roles.c.person_id == person_id, roles.c.role == role, roles.c.revoked_at.is_(None),
            roles.c.unit_id.is_(None) if unit_id is None else roles.c.unit_id == unit_id,
            roles.c.organisation_id.is_(None) if organisation_id is None
            else roles.c.organisation_id == organisation_id)).first() is not None

    def add_role(self, role_id: uuid.UUID, person_id: uuid.UUID, role: str, unit_id, organisation_id,
                 granted_by) -> None:
        self.session.execute(roles.insert().values(id=role_id, person_id=person_id, role=role, unit_id=unit_id,
                                                   organisation_id=organisation_id, granted_by=granted_by))

    def active_role(self, role_id: uuid.UUID, person_id: uuid.UUID):
        return self.session.execute(select(roles).where(roles.c.id == role_id, roles.c.person_id == person_id,
                                                        roles.c.revoked_at.is_(None)).with_for_update()).first()

    def end_role(self, role_id: uuid.UUID, revoked_by: uuid.UUID) -> None:
        self.session.execute(update(roles).where(roles.c.id == role_id).values(revoked_at=func.now(),
                                                                               revoked_by=revoked_by))

    # ---- units and organisations -----------------------------------------------------------------
    def units(self) -> list:
        return self.session.execute(select(units.c.id, units.c.name, units.c.head_name).order_by(units.c.name)).all()

    def unit_exists(self, unit_id: uuid.UUID) -> bool:
        return self.session.execute(select(units.c.id).where(units.c.id == unit_id)).first() is not None

    def unit_named(self, name: str) -> uuid.UUID | None:
        return self.session.execute(select(units.c.id).where(units.c.name == name)).scalar()

    def add_unit(self, unit_id: uuid.UUID, values: dict) -> bool:
        """False when a unit of that name exists."""
        return self.session.execute(insert(units).values(id=unit_id, **values)
                                    .on_conflict_do_nothing(index_elements=[units.c.name])
                                    .returning(units.c.id)).first() is not None

    def organisation_exists(self, org_id: uuid.UUID) -> bool:
        return self.session.execute(select(organisations.c.id)
                                    .where(organisations.c.id == org_id)).first() is not None

    def add_organisation(self, org_id: uuid.UUID, name: str, kind: str, head_id: uuid.UUID,
                         confirmed: bool = False, edrpou: str | None = None) -> bool:
        """False when an institution with that ЄДРПОУ code is already filed."""
        extra = {"confirmed_at": func.now()} if confirmed else {}
        return self.session.execute(
            insert(organisations).values(id=org_id, name=name, kind=kind, head_person_id=head_id, edrpou=edrpou,
                                         **extra)
            .on_conflict_do_nothing(index_elements=[organisations.c.edrpou],
                                    index_where=organisations.c.edrpou.is_not(None))
            .returning(organisations.c.id)).first() is not None

    def organisation(self, org_id: uuid.UUID, lock: bool = False):
        stmt = select(organisations).where(organisations.c.id == org_id)
        return self.session.execute(stmt.with_for_update() if lock else stmt).first()

    def confirm_organisation(self, org_id: uuid.UUID, by: uuid.UUID) -> None:
        self.session.execute(update(organisations).where(organisations.c.id == org_id)
                             .values(confirmed_at=func.now(), confirmed_by=by))

    def organisations(self, include_pending: bool) -> list:
        stmt = select(organisations).order_by(organisations.c.name)
        if not include_pending:
            stmt = stmt.where(organisations.c.confirmed_at.is_not(None))
        return self.session.execute(stmt).all()

    def organisations_headed(self, person_id: uuid.UUID) -> list:
        return self.session.execute(select(organisations).where(organisations.c.head_person_id == person_id)).all()

    # ---- the audit log ---------------------------------------------------------------------------
    def audit(self, actor_id: uuid.UUID | None, action: str, person_id: uuid.UUID | None, details: dict) -> None:
        self.session.execute(audit_log.insert().values(actor_id=actor_id, action=action, person_id=person_id,
                                                       details=details))

    def audit_entries(self, person_id: uuid.UUID | None, limit: int) -> list[dict]:
        stmt = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if person_id is not None:
            stmt = stmt.where(or_(audit_log.c.person_id == person_id, audit_log.c.actor_id == person_id))
        return [r._asdict() for r in self.session.execute(stmt)]

    # ---- request counters ------------------------------------------------------------------------
    def count_hits(self, pairs: list[tuple[str, datetime]]) -> list[int]:
        return _COUNTERS.count_hits(self.session, pairs)

    def forget_windows_before(self, cutoff: datetime) -> None:
        _COUNTERS.forget_windows_before(self.session, cutoff)

    # ---- partners' API keys ----------------------------------------------------------------------
    def add_api_key(self, **values) -> None:
        self.session.execute(api_keys.insert().values(**values))

    def api_key(self, key_id: uuid.UUID):
        return self.session.execute(select(api_keys).where(api_keys.c.id == key_id)).first()

    def api_key_by_hash(self, key_hash: str):
        return self.session.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()

    def api_keys(self) -> list:
        return self.session.execute(select(api_keys).order_by(api_keys.c.created_at)).all()

    def revoke_api_key(self, key_id: uuid.UUID) -> None:
        self.session.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                             .values(revoked_at=func.now()))

    def touch_api_key(self, key_id: uuid.UUID, at: datetime) -> None:
        self.session.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))
