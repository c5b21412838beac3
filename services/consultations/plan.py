"""The annual indicative plan of consultations (R-3.3): officials plan entries for their unit;
residents, institutions and bodies propose entries, which officials take into the plan or decline."""
from __future__ import annotations

import uuid

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from chassis.errors import Forbidden, InvalidInput, NotFound
from contracts.consultations import PUBLIC_PLAN_STATUSES as PUBLIC
from contracts.consultations import Plan, PlanEntryIn, PlanEntryOut, PlanEntryPatch, PlanStatus  # noqa: F401
from contracts.identity import Principal, Role
from services.consultations.rules import can_see
from services.consultations.models import consultations, plan_entries


def _official_unit(actor: Principal | None) -> str | None:
    if actor is None:
        return None
    return next((r.unit_name for r in actor.roles if r.role == Role.official and r.unit_name), None)


def add(session: Session, actor: Principal | None, year: int, data: PlanEntryIn) -> PlanEntryOut:
    """An official's entry is planned at once for their unit; anyone else's is a proposal."""
    if actor is None or not actor.consent_given:
        raise Forbidden("Потрібно увійти та надати згоду", code="consent_required")
    unit = _official_unit(actor)
    status = PlanStatus.planned if unit else PlanStatus.proposed
    row = session.execute(plan_entries.insert().values(
        id=uuid.uuid4(), year=year, unit_name=unit, status=status.value, proposed_by=actor.person_id,
        proposer_name=None if unit else actor.full_name, **data.model_dump()).returning(plan_entries)).one()
    return PlanEntryOut.model_validate(row._asdict())


def change(session: Session, actor: Principal | None, entry_id: uuid.UUID, patch: PlanEntryPatch) -> PlanEntryOut:
    unit = _official_unit(actor)
    if unit is None:
        raise Forbidden("План змінюють посадові особи", code="role_required")
    row = session.execute(select(plan_entries).where(plan_entries.c.id == entry_id).with_for_update()).first()
    if row is None:
        raise NotFound("Запису плану не знайдено", code="plan_entry_not_found")
    values = patch.model_dump(exclude_unset=True)
    if "status" in values:
        values["status"] = patch.status.value
        if row.status == PlanStatus.proposed.value and patch.status == PlanStatus.planned:
            values["unit_name"] = unit  # the official takes the proposal into their unit's plan
    if patch.consultation_id is not None:
        linked = session.execute(select(consultations).where(consultations.c.id == patch.consultation_id)).first()
        if linked is None or not can_see(actor, linked):  # one the official may not see is unknown to them
            raise InvalidInput("Немає такої консультації", code="consultation_not_found",
                               errors=[{"field": "consultation_id", "message": "невідома консультація"}])
        values.setdefault("status", PlanStatus.held.value)
    if values:
        session.execute(update(plan_entries).where(plan_entries.c.id == entry_id).values(**values))
    return PlanEntryOut.model_validate(session.execute(
        select(plan_entries).where(plan_entries.c.id == entry_id)).one()._asdict())


def for_year(session: Session, actor: Principal | None, year: int) -> Plan:
    """The public plan; proposals too for officials and moderators, and each proposer's own."""
    visible = plan_entries.c.status.in_([s.value for s in PUBLIC])
    if actor is not None and (_official_unit(actor) or actor.has(Role.moderator)):
        visible = or_(visible, plan_entries.c.status.in_([PlanStatus.proposed.value, PlanStatus.declined.value]))
    elif actor is not None:
        visible = or_(visible, plan_entries.c.proposed_by == actor.person_id)
    rows = session.execute(select(plan_entries).where(plan_entries.c.year == year, visible)
                           .order_by(plan_entries.c.planned_quarter.nulls_last(), plan_entries.c.title)).all()
    linked = {r.consultation_id for r in rows if r.consultation_id}
    seen = {c.id for c in session.execute(select(consultations).where(consultations.c.id.in_(linked)))
            if can_see(actor, c)} if linked else set()
    return Plan(year=year, items=[PlanEntryOut.model_validate(
        {**r._asdict(), "consultation_id": r.consultation_id if r.consultation_id in seen else None}) for r in rows])
