"""The moderation store in memory (the methods of ``services.moderation.store.Store``)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

from tests.support.fakes import MemoryStore


class FakeStore(MemoryStore):
    def __init__(self):
        super().__init__()
        self.screenings: list[SimpleNamespace] = []
        self.cases: dict[uuid.UUID, SimpleNamespace] = {}
        self.flags: dict[tuple, str] = {}
        self.decisions: list[SimpleNamespace] = []

    def previous_hashes(self, author_id):
        return {s.text_hash for s in self.screenings if s.author_id == author_id and s.kind == "comment"}

    def add_screening(self, kind, subject_id, consultation_id, author_id, text, text_hash, outcome, matches,
                      **received):
        self.screenings.append(SimpleNamespace(kind=kind, subject_id=subject_id, consultation_id=consultation_id,
                                               author_id=author_id, text=text, text_hash=text_hash,
                                               outcome=outcome, matches=matches, **received))

    def recent_screenings(self, consultation_id, limit):
        found = [SimpleNamespace(at=datetime.now(timezone.utc), **vars(s)) for s in reversed(self.screenings)
                 if consultation_id is None or s.consultation_id == consultation_id]
        return found[:limit]

    def recent_decisions(self, consultation_id, moderator_id, limit):
        return []

    def last_comment_screening(self, comment_id):
        return next((s for s in reversed(self.screenings) if s.kind == "comment" and s.subject_id == comment_id),
                    None)

    def open_case(self, kind, subject_id, consultation_id, author_id, author_name, text, matches, submitted_at,
                  due_at, source, channel="web"):
        if any(c.kind == kind and c.subject_id == subject_id for c in self.cases.values()):
            return
        case_id = uuid.uuid4()
        self.cases[case_id] = SimpleNamespace(
            id=case_id, kind=kind, subject_id=subject_id, status="open", consultation_id=consultation_id,
            author_id=author_id, author_name=author_name, text=text, matches=list(matches), source=source,
            reports=0, priority=0, submitted_at=submitted_at, channel=channel, due_at=due_at, decision=None,
            grounds=None,
            note=None, decided_by=None)

    def comment_case(self, comment_id, lock=False):
        return next((c for c in self.cases.values() if c.kind == "comment" and c.subject_id == comment_id), None)

    def set_matches(self, case_id, matches):
        self.cases[case_id].matches = matches

    def reopen_case(self, case_id, matches, submitted_at, due_at):
        vars(self.cases[case_id]).update(status="open", source="report", matches=matches, decision=None,
                                         decided_by=None, submitted_at=submitted_at, due_at=due_at)

    def case(self, case_id):
        return self.cases.get(case_id)

    def close_case(self, case_id, decision, grounds, note, moderator_id):
        c = self.cases.get(case_id)
        if c is None or c.status != "open":
            return None
        vars(c).update(status="decided", decision=decision, grounds=grounds, note=note, decided_by=moderator_id)
        return c

    def add_flag(self, comment_id, reporter_id, reason):
        if (comment_id, reporter_id) in self.flags:
            return False
        self.flags[comment_id, reporter_id] = reason
        return True

    def count_flags(self, comment_id):
        return sum(1 for c, _ in self.flags if c == comment_id)

    def set_reports(self, comment_id, count, priority):
        c = self.comment_case(comment_id)
        if c is not None:
            c.reports, c.priority = count, priority

    def add_decision(self, case_id, consultation_id, moderator_id, decision, grounds, note):
        self.decisions.append(SimpleNamespace(case_id=case_id, consultation_id=consultation_id,
                                              moderator_id=moderator_id, decision=decision, grounds=grounds,
                                              note=note))
