"""Registry rules as plain functions over a SQLAlchemy session (no broker needed to test them)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chassis.outbox import add_event
from services.registry.models import persons
from services.registry.schemas import PersonIn, PersonRef, PersonRegistered


def register_person(session: Session, person: PersonIn) -> PersonRef:
    """Create the person on first sight of their subject, update them afterwards.

    ``person_registered`` goes into the outbox only when the record is new.
    """
    new_id = uuid.uuid4()
    values = person.model_dump()
    row = session.execute(
        insert(persons).values(id=new_id, **values)
        .on_conflict_do_update(index_elements=[persons.c.subject],
                               set_={**{k: values[k] for k in values if k != "subject"},
                                     "updated_at": func.now()})
        .returning(persons.c.id, persons.c.created_at)).one()
    created = row.id == new_id
    if created:
        add_event(session, PersonRegistered(person_id=row.id,
                                            registered_at=row.created_at or datetime.now(timezone.utc)))
    return PersonRef(id=row.id, created=created)


def count_persons(session: Session) -> int:
    return session.execute(select(func.count()).select_from(persons)).scalar_one()
