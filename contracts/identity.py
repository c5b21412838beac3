"""Who is acting, shared by every service and the gateway: the acting person (``Principal``), the
roles, and the R-1.3 eligibility rule (14 or older and a member of the community)."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum

from pydantic import BaseModel, Field

MIN_AGE = 14


class Role(str, Enum):
    resident = "resident"
    institution_head = "institution_head"
    official = "official"                  # officials of a structural unit
    moderator = "moderator"
    admin = "admin"


class RoleOut(BaseModel):
    id: uuid.UUID
    role: Role
    unit_id: uuid.UUID | None = None
    unit_name: str | None = None
    organisation_id: uuid.UUID | None = None
    organisation_name: str | None = Field(None, description="institution_head: the confirmed institution")
    organisation_kind: str | None = Field(None, description="institution_head: its kind (contracts.registry)")
    granted_at: datetime


class Eligibility(BaseModel):
    """R-1.3: 14 or older and a member of the community; otherwise read-only, with the reasons."""

    eligible: bool
    reasons: list[str] = Field(description="`under_14`, `not_community_member`, `birth_date_unknown`")


class Principal(BaseModel):
    """Who is acting: what the gateway and the services authorise by."""

    person_id: uuid.UUID
    session_id: uuid.UUID | None = None
    full_name: str
    roles: list[RoleOut]
    eligibility: Eligibility
    consent_given: bool

    def has(self, role: Role | str) -> bool:
        return any(r.role == Role(role) for r in self.roles)

    def units(self) -> set[uuid.UUID]:
        return {r.unit_id for r in self.roles if r.role == Role.official and r.unit_id}

    def headed(self, organisation_id: uuid.UUID) -> RoleOut | None:
        """The role by which this person heads the confirmed institution, if they do (R-2.2)."""
        return next((r for r in self.roles if r.role == Role.institution_head
                     and r.organisation_id == organisation_id), None)


def principal_from(actor: dict | None) -> Principal | None:
    """The acting person as the gateway passes it over RPC (None: anonymous), validated."""
    from chassis.errors import parse

    return parse(Principal, actor) if actor is not None else None




def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def eligibility(birth_date: date | None, community_member: bool, today: date) -> Eligibility:
    """R-1.3: who may comment, vote and initiate; the reasons when not."""
    reasons = []
    if birth_date is None:
        reasons.append("birth_date_unknown")
    elif age_on(birth_date, today) < MIN_AGE:
        reasons.append("under_14")
    if not community_member:
        reasons.append("not_community_member")
    return Eligibility(eligible=not reasons, reasons=reasons)


# why a person may read but not take part, as people are told it
NOT_ELIGIBLE = {"under_14": "учасникам консультацій має виповнитися 14 років",
                "not_community_member": "потрібна реєстрація місця проживання в громаді",
                "birth_date_unknown": "постачальник ідентифікації не передав дату народження"}


def require_consent(actor: Principal) -> Principal:
    """Acting on the platform needs consent to the processing of personal data (R-2.4)."""
    from chassis.errors import Forbidden

    if not actor.consent_given:
        raise Forbidden("Спершу надайте згоду на обробку персональних даних", code="consent_required")
    return actor


def require_participant(actor: Principal) -> Principal:
    """R-1.3: commenting, voting and initiating need consent, age 14 or more and community
    membership; otherwise a typed refusal naming every reason."""
    from chassis.errors import Forbidden

    require_consent(actor)
    if not actor.eligibility.eligible:
        reasons = actor.eligibility.reasons
        raise Forbidden("Ви можете читати, але не брати участь: " + "; ".join(NOT_ELIGIBLE[r] for r in reasons),
                        code=reasons[0], errors=[{"field": "person", "message": NOT_ELIGIBLE[r], "type": r}
                                                 for r in reasons])
    return actor
