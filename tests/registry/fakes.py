"""The registry store in memory (the methods of ``services.registry.store.Store`` the handlers
under test use)."""
from __future__ import annotations

import uuid
from collections import namedtuple
from datetime import datetime, timezone
from types import SimpleNamespace

from tests.support.fakes import MemoryStore

PERSON_COLUMNS = ("id", "subject", "full_name", "birth_date", "community_member", "email", "phone", "interests",
                  "email_enabled", "email_mode", "consent_version", "consented_at", "consent_withdrawn_at",
                  "erased_at", "last_login_at", "created_at", "updated_at")
PersonRow = namedtuple("PersonRow", PERSON_COLUMNS)


def now() -> datetime:
    return datetime.now(timezone.utc)


class FakeStore(MemoryStore):
    def __init__(self):
        super().__init__()
        self.persons: dict[uuid.UUID, dict] = {}
        self.sessions: dict[uuid.UUID, SimpleNamespace] = {}
        self.roles: dict[uuid.UUID, SimpleNamespace] = {}
        self.units: dict[uuid.UUID, dict] = {}
        self.orgs: dict[uuid.UUID, SimpleNamespace] = {}
        self.audit_log: list[dict] = []
        self.hits: dict[tuple, int] = {}

    # persons
    def upsert_person(self, new_id, values):
        found = next((p for p in self.persons.values() if p["subject"] == values["subject"]), None)
        if found is None:
            found = dict.fromkeys(PERSON_COLUMNS)
            found.update(values, id=new_id, interests=[], email_enabled=True, email_mode="immediate",
                         created_at=now(), updated_at=now(), last_login_at=now())
            self.persons[new_id] = found
        else:
            found.update({k: values[k] for k in ("full_name", "birth_date", "community_member")})
            if found["erased_at"] is None:
                found["email"] = found["email"] or values["email"]
                found["phone"] = found["phone"] or values["phone"]
        return SimpleNamespace(id=found["id"], created_at=found["created_at"])

    def person(self, person_id, lock=False):
        p = self.persons.get(person_id)
        return PersonRow(**p) if p else None

    def update_person(self, person_id, **values):
        values.setdefault("updated_at", now())
        self.persons[person_id].update(values)

    def give_consent(self, person_id, version):
        self.update_person(person_id, consent_version=version, consented_at=now(), consent_withdrawn_at=None,
                           erased_at=None)

    def consent_if_none(self, person_id, version):
        if self.persons[person_id]["consent_version"] is None:
            self.persons[person_id].update(consent_version=version, consented_at=now())

    def switch_email_off(self, person_id):
        p = self.persons.get(person_id)
        if not p or not p["email_enabled"]:
            return False
        p.update(email_enabled=False, updated_at=now())
        return True

    # sessions
    def add_session(self, session_id, person_id, expires_at):
        self.sessions[session_id] = SimpleNamespace(id=session_id, person_id=person_id, expires_at=expires_at,
                                                    revoked_at=None, created_at=now())

    def session_principal(self, session_id):
        s = self.sessions.get(session_id)
        if s is None:
            return None
        return SimpleNamespace(**self.persons[s.person_id], session_revoked_at=s.revoked_at,
                               session_expires_at=s.expires_at, active_roles=self.active_roles(s.person_id))

    def revoke_session(self, session_id):
        s = self.sessions.get(session_id)
        if s and s.revoked_at is None:
            s.revoked_at = now()

    def revoke_sessions_of(self, person_id, at):
        for s in self.sessions.values():
            if s.person_id == person_id and s.revoked_at is None:
                s.revoked_at = at

    # roles
    def active_roles(self, person_id):
        return [{"id": r.id, "role": r.role, "unit_id": r.unit_id,
                 "unit_name": self.units[r.unit_id]["name"] if r.unit_id else None,
                 "organisation_id": r.organisation_id,
                 "organisation_name": self.orgs[r.organisation_id].name if r.organisation_id else None,
                 "organisation_kind": self.orgs[r.organisation_id].kind if r.organisation_id else None,
                 "granted_at": r.granted_at}
                for r in sorted(self.roles.values(), key=lambda r: r.granted_at)
                if r.person_id == person_id and r.revoked_at is None]

    def holds_role(self, person_id, role, unit_id, organisation_id):
        return any(r.person_id == person_id and r.role == role and r.revoked_at is None and r.unit_id == unit_id
                   and r.organisation_id == organisation_id for r in self.roles.values())

    def add_role(self, role_id, person_id, role, unit_id, organisation_id, granted_by):
        self.roles[role_id] = SimpleNamespace(id=role_id, person_id=person_id, role=role, unit_id=unit_id,
                                              organisation_id=organisation_id, granted_by=granted_by,
                                              granted_at=now(), revoked_at=None, revoked_by=None)

    def active_role(self, role_id, person_id):
        r = self.roles.get(role_id)
        return r if r and r.person_id == person_id and r.revoked_at is None else None

    def end_role(self, role_id, revoked_by):
        self.roles[role_id].revoked_at, self.roles[role_id].revoked_by = now(), revoked_by

    # units and organisations
    def unit_exists(self, unit_id):
        return unit_id in self.units

    def unit_named(self, name):
        return next((i for i, u in self.units.items() if u["name"] == name), None)

    def add_unit(self, unit_id, values):
        if self.unit_named(values["name"]) is not None:
            return False
        self.units[unit_id] = dict(values, id=unit_id)
        return True

    def organisation_exists(self, org_id):
        return org_id in self.orgs

    def add_organisation(self, org_id, name, kind, head_id, confirmed=False, edrpou=None):
        if edrpou is not None and any(o.edrpou == edrpou for o in self.orgs.values()):
            return False
        self.orgs[org_id] = SimpleNamespace(id=org_id, name=name, kind=kind, head_person_id=head_id, edrpou=edrpou,
                                            confirmed_at=now() if confirmed else None, confirmed_by=None)
        return True

    def organisation(self, org_id, lock=False):
        return self.orgs.get(org_id)

    def confirm_organisation(self, org_id, by):
        self.orgs[org_id].confirmed_at, self.orgs[org_id].confirmed_by = now(), by

    def organisations(self, include_pending):
        return sorted((o for o in self.orgs.values() if include_pending or o.confirmed_at), key=lambda o: o.name)

    # audit, request counters
    def audit(self, actor_id, action, person_id, details):
        self.audit_log.append({"id": len(self.audit_log) + 1, "at": now(), "actor_id": actor_id, "action": action,
                               "person_id": person_id, "details": details})

    def count_hits(self, pairs):
        for pair in pairs:
            self.hits[pair] = self.hits.get(pair, 0) + 1
        return [self.hits[pair] for pair in pairs]

    def forget_windows_before(self, cutoff):
        self.hits = {k: v for k, v in self.hits.items() if k[1] >= cutoff}
