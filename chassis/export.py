"""A person's own data in one service's database, for the export of everything the system keeps
about them (R-2.4). Each service names its tables and the column that holds the person's id
(``BaseService.personal_data``); the ``export_person`` RPC every service inherits reads exactly
those rows, so each service answers only for its own data."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import Table, select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Personal:
    """Rows of ``table`` whose ``by`` column is the person; ``columns``: which to show (all by default)."""

    table: Table
    by: str
    columns: tuple[str, ...] = ()

    def rows(self, session: Session, person_id: uuid.UUID) -> list[dict]:
        cols = [self.table.c[name] for name in self.columns] if self.columns else list(self.table.c)
        order = [c for c in self.table.primary_key.columns]
        stmt = select(*cols).where(self.table.c[self.by] == person_id).order_by(*order)
        return [row._asdict() for row in session.execute(stmt)]


def export_person(session: Session, sections: dict[str, Personal], person_id: uuid.UUID) -> dict:
    """``{section: [rows]}`` as plain JSON values (dates, ids and decimals as text)."""
    data = {name: part.rows(session, person_id) for name, part in sections.items()}
    return json.loads(json.dumps(data, default=str))
