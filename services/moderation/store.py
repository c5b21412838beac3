"""All SQL of the moderation service: its screenings, cases, decisions and residents' reports."""
from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache

from sqlalchemy import and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from chassis.store import SqlStore
from services.moderation.models import cases, decisions, flags, screenings


@lru_cache(maxsize=8)
def _insert_screening(columns: frozenset[str]):
    """Built once per set of columns: building the statement per event cost more CPU than running it."""
    return screenings.insert().values({c: bindparam(c) for c in sorted(columns)})


class Store(SqlStore):
    # ---- screenings ------------------------------------------------------------------------------
    def previous_hashes(self, author_id: uuid.UUID) -> set[str]:
        return set(self.session.execute(select(screenings.c.text_hash).where(
            screenings.c.author_id == author_id, screenings.c.kind == "comment")).scalars())

    def add_screening(self, kind: str, subject_id, consultation_id, author_id, text: str, text_hash: str,
                      outcome: str, matches: list, **received) -> None:
        """``received``: ``channel``, and for a comment received offline ``entered_by``, ``received_on``."""
        values = dict(kind=kind, subject_id=subject_id, consultation_id=consultation_id, author_id=author_id,
                      text=text, text_hash=text_hash, outcome=outcome, matches=matches, **received)
        self.session.execute(_insert_screening(frozenset(values)), values)

    def last_comment_screening(self, comment_id: uuid.UUID):
        return self.session.execute(select(screenings).where(screenings.c.kind == "comment",
                                                             screenings.c.subject_id == comment_id)
                                    .order_by(screenings.c.id.desc()).limit(1)).first()

    # ---- cases -----------------------------------------------------------------------------------
    def open_case(self, kind: str, subject_id: uuid.UUID, consultation_id, author_id, author_name, text: str,
                  matches: list, submitted_at: datetime, due_at: datetime, source: str, channel: str = "web") -> None:
        """A new open case; nothing when the subject already has one."""
        self.session.execute(insert(cases).values(
            id=uuid.uuid4(), kind=kind, subject_id=subject_id, status="open", consultation_id=consultation_id,
            author_id=author_id, author_name=author_name, text=text, matches=matches, source=source,
            submitted_at=submitted_at, due_at=due_at, channel=channel)
            .on_conflict_do_nothing(index_elements=[cases.c.kind, cases.c.subject_id]))

    def comment_case(self, comment_id: uuid.UUID, lock: bool = False):
        stmt = select(cases).where(cases.c.kind == "comment", cases.c.subject_id == comment_id)
        return self.session.execute(stmt.with_for_update() if lock else stmt).first()

    def set_matches(self, case_id: uuid.UUID, matches: list) -> None:
        self.session.execute(update(cases).where(cases.c.id == case_id).values(matches=matches))

    def reopen_case(self, case_id: uuid.UUID, matches: list, submitted_at: datetime, due_at: datetime) -> None:
        self.session.execute(update(cases).where(cases.c.id == case_id).values(
            status="open", source="report", matches=matches, decision=None, decided_at=None, decided_by=None,
            submitted_at=submitted_at, due_at=due_at))

    def case(self, case_id: uuid.UUID):
        return self.session.execute(select(cases).where(cases.c.id == case_id)).first()

    def close_case(self, case_id: uuid.UUID, decision: str, grounds: list[str], note: str | None,
                   moderator_id: uuid.UUID):
        """The decided case, or None when it was no longer open (another moderator won)."""
        return self.session.execute(update(cases).where(cases.c.id == case_id, cases.c.status == "open").values(
            status="decided", decision=decision, grounds=grounds, note=note, decided_by=moderator_id,
            decided_at=func.now()).returning(cases)).first()

    def open_cases(self, consultation_id, kind, rule, after: tuple | None, limit: int) -> tuple[int, list]:
        """The number of open cases matching the filters, and one keyset page of them (``limit`` + 1
        rows, so the caller can tell whether another page follows)."""
        where = [cases.c.status == "open"]
        if consultation_id:
            where.append(cases.c.consultation_id == consultation_id)
        if kind:
            where.append(cases.c.kind == kind)
        if rule:
            where.append(cases.c.matches.contains([{"rule": rule}]))
        total = self.session.execute(select(func.count()).select_from(cases).where(*where)).scalar_one()
        if after:
            priority, at, case_id = after
            where.append(or_(cases.c.priority < priority, and_(
                cases.c.priority == priority, tuple_(cases.c.submitted_at, cases.c.id) > tuple_(at, case_id))))
        rows = self.session.execute(select(cases).where(*where).order_by(
            cases.c.priority.desc(), cases.c.submitted_at, cases.c.id).limit(limit + 1)).all()
        return total, rows

    # ---- residents' reports ----------------------------------------------------------------------
    def add_flag(self, comment_id: uuid.UUID, reporter_id: uuid.UUID, reason: str) -> bool:
        """False when this resident already reported this comment."""
        return self.session.execute(insert(flags).values(comment_id=comment_id, reporter_id=reporter_id, reason=reason)
                                    .on_conflict_do_nothing().returning(flags.c.comment_id)).first() is not None

    def count_flags(self, comment_id: uuid.UUID) -> int:
        return self.session.execute(select(func.count()).select_from(flags)
                                    .where(flags.c.comment_id == comment_id)).scalar_one()

    def set_reports(self, comment_id: uuid.UUID, count: int, priority: int) -> None:
        self.session.execute(update(cases).where(cases.c.kind == "comment", cases.c.subject_id == comment_id)
                             .values(reports=count, priority=priority))

    # ---- decisions, audit, statistics --------------------------------------------------------------
    def add_decision(self, case_id, consultation_id, moderator_id, decision: str, grounds: list[str],
                     note: str | None) -> None:
        self.session.execute(decisions.insert().values(case_id=case_id, consultation_id=consultation_id,
                                                       moderator_id=moderator_id, decision=decision,
                                                       grounds=grounds, note=note))

    def recent_screenings(self, consultation_id, limit: int) -> list:
        stmt = select(screenings).order_by(screenings.c.id.desc()).limit(limit)
        if consultation_id:
            stmt = stmt.where(screenings.c.consultation_id == consultation_id)
        return self.session.execute(stmt).all()

    def recent_decisions(self, consultation_id, moderator_id, limit: int) -> list:
        stmt = select(decisions, cases.c.subject_id).join(cases, cases.c.id == decisions.c.case_id) \
            .order_by(decisions.c.id.desc()).limit(limit)
        if consultation_id:
            stmt = stmt.where(decisions.c.consultation_id == consultation_id)
        if moderator_id:
            stmt = stmt.where(decisions.c.moderator_id == moderator_id)
        return self.session.execute(stmt).all()

    def counts(self) -> dict:
        """Open and overdue cases, decisions per moderator, every decision's grounds, screenings and
        how many of them held the text."""
        s = self.session
        return {
            "open": s.execute(select(func.count()).select_from(cases).where(cases.c.status == "open")).scalar_one(),
            "overdue": s.execute(select(func.count()).select_from(cases).where(
                cases.c.status == "open", cases.c.due_at < func.now())).scalar_one(),
            "by_moderator": dict(s.execute(select(decisions.c.moderator_id, func.count())
                                           .group_by(decisions.c.moderator_id)).all()),
            "grounds": [g for (g,) in s.execute(select(decisions.c.grounds))],
            "screened": s.execute(select(func.count()).select_from(screenings)).scalar_one(),
            "held": s.execute(select(func.count()).select_from(screenings)
                              .where(screenings.c.outcome == "hold")).scalar_one(),
        }
