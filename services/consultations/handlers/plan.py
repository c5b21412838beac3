"""The annual indicative plan of consultations (R-3.3): officials plan entries for their unit;
residents, institutions and bodies propose entries, which officials take into the plan or decline."""
from __future__ import annotations

import uuid

from chassis.errors import InvalidInput, NotFound
from contracts.consultations import PUBLIC_PLAN_STATUSES, Plan, PlanEntryIn, PlanEntryOut, PlanEntryPatch
from contracts.identity import Principal
from services.consultations import rules


def add(uow, actor: Principal | None, year: int, data: PlanEntryIn) -> PlanEntryOut:
    """An official's entry is planned at once for their unit; anyone else's is a proposal."""
    unit, status = rules.new_plan_entry(actor)
    with uow.transaction() as store:
        row = store.add_plan_entry(id=uuid.uuid4(), year=year, unit_name=unit, status=status.value,
                                   proposed_by=actor.person_id, proposer_name=None if unit else actor.full_name,
                                   **data.model_dump())
    return PlanEntryOut.model_validate(row._asdict())


def change(uow, actor: Principal | None, entry_id: uuid.UUID, patch: PlanEntryPatch) -> PlanEntryOut:
    unit = rules.require_plan_official(actor)
    with uow.transaction() as store:
        row = store.plan_entry(entry_id, lock=True)
        if row is None:
            raise NotFound("Запису плану не знайдено", code="plan_entry_not_found")
        if patch.consultation_id is not None:
            linked = store.consultation(patch.consultation_id)
            if linked is None or not rules.can_see(actor, linked):  # one the official may not see is unknown to them
                raise InvalidInput("Немає такої консультації", code="consultation_not_found",
                                   errors=[{"field": "consultation_id", "message": "невідома консультація"}])
        values = rules.plan_change(row, patch, unit)
        if values:
            store.update_plan_entry(entry_id, **values)
        return PlanEntryOut.model_validate(store.plan_entry(entry_id)._asdict())


def for_year(uow, actor: Principal | None, year: int) -> Plan:
    """The public plan; proposals too for officials and moderators, and each proposer's own."""
    everything_proposed, proposer = rules.plan_scope(actor)
    with uow.transaction() as store:
        rows = store.plan_of_year(year, [s.value for s in PUBLIC_PLAN_STATUSES], everything_proposed, proposer)
        linked = {r.consultation_id for r in rows if r.consultation_id}
        seen = {c.id for c in store.consultations_among(linked) if rules.can_see(actor, c)}
    return Plan(year=year, items=[PlanEntryOut.model_validate(
        {**r._asdict(), "consultation_id": r.consultation_id if r.consultation_id in seen else None}) for r in rows])
