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
