"""Acting persons for unit tests of the services' handlers."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from contracts.identity import Eligibility, Principal, Role, RoleOut


def principal(*roles: str, unit_id: uuid.UUID | None = None, eligible: bool = True,
              consent: bool = True, name: str = "Тестова Особа") -> Principal:
    """A person holding ``roles`` (a resident always), ``unit_id`` for an official."""
    now = datetime.now(timezone.utc)
    held = [RoleOut(id=uuid.UUID(int=0), role=Role.resident, granted_at=now)]
    held += [RoleOut(id=uuid.uuid4(), role=Role(r), granted_at=now,
                     unit_id=unit_id if r == "official" else None) for r in roles if r != "resident"]
    return Principal(person_id=uuid.uuid4(), full_name=name, roles=held, consent_given=consent,
                     eligibility=Eligibility(eligible=eligible, reasons=[] if eligible else ["under_14"]))


def head_of(organisation_id: uuid.UUID, organisation_name: str, kind: str = "ngo", name: str = "Голова Установи") -> Principal:
    """A confirmed head of an institution (R-2.2): the role the registry grants on confirmation."""
    p = principal(name=name)
    p.roles.append(RoleOut(id=uuid.uuid4(), role=Role.institution_head, organisation_id=organisation_id,
                           organisation_name=organisation_name, organisation_kind=kind,
                           granted_at=datetime.now(timezone.utc)))
    return p
