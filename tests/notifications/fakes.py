"""In-memory stand-ins for the delivery engine's store and SMTP connection, so the engine's rules
run without PostgreSQL, RabbitMQ or a mail server."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace

from services.notifications import mailer, rules


@dataclass
class Row:
    id: int
    person_id: uuid.UUID
    consultation_id: uuid.UUID | None
    kind: str = rules.KIND
    day: date | None = None
    status: str = "pending"
    attempts: int = 0
    claim_token: uuid.UUID | None = None
    last_error: str | None = None
    next_delay: timedelta | None = None
    feedback_id: int | None = None


@dataclass
class FakeDeliveries:
    """The methods of store.Deliveries over a dict of rows; ``commits`` counts the `sent` commits."""
    rows: dict[int, Row] = field(default_factory=dict)
    fanout_rows: dict[uuid.UUID, SimpleNamespace] = field(default_factory=dict)
    digests: dict[tuple[uuid.UUID, date], list] = field(default_factory=dict)
    taken_back: set[int] = field(default_factory=set)  # rows another sender has since claimed
    sent_commits: list[list[int]] = field(default_factory=list)
    fanout_reads: int = 0
    feedback_rows: dict[int, SimpleNamespace] = field(default_factory=dict)

    def add(self, person_id: uuid.UUID, consultation_id: uuid.UUID | None, **kw) -> Row:
        row = Row(len(self.rows) + 1, person_id, consultation_id, **kw)
        self.rows[row.id] = row
        return row

    def claim(self, limit: int, stuck_after: timedelta, token: uuid.UUID) -> list:
        due = [r for r in self.rows.values() if r.status == "pending" and r.next_delay is None][:limit]
        for r in due:
            r.status, r.claim_token, r.attempts = "sending", token, r.attempts + 1
        return [SimpleNamespace(**vars(r)) for r in due]

    def fanouts(self, consultation_ids: set) -> dict:
        self.fanout_reads += 1
        return {c: self.fanout_rows.get(c) for c in consultation_ids}

    def still_mine(self, delivery_id: int, token: uuid.UUID) -> bool:
        return delivery_id not in self.taken_back and self.rows[delivery_id].claim_token == token

    def digest_listing(self, person_id: uuid.UUID, day: date) -> list:
        return self.digests.get((person_id, day), [])

    def feedback_message(self, feedback_id: int):
        return self.feedback_rows.get(feedback_id)

    def skip(self, delivery_id: int, why: str) -> None:
        self.rows[delivery_id].status, self.rows[delivery_id].last_error = "skipped", why

    def mark_sent(self, delivery_ids: list[int]) -> None:
        self.sent_commits.append(list(delivery_ids))
        for i in delivery_ids:
            self.rows[i].status = "sent"

    def mark_failed(self, delivery_id: int, error: str, temporary: bool, attempts: int) -> None:
        outcome = rules.after_failure(error, temporary, attempts)
        row = self.rows[delivery_id]
        row.status, row.last_error, row.next_delay = outcome.status, outcome.error, outcome.delay

    def statuses(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows.values():
            out[r.status] = out.get(r.status, 0) + 1
        return out


class FakeSmtp:
    """Accepts every message, unless ``script[address]`` holds answers to give first
    ("451 …" temporary, "550 …" permanent)."""

    def __init__(self, script: dict[str, list[str]] | None = None):
        self.script = script or {}
        self.accepted: list[tuple[str, bytes]] = []
        self.closed = 0

    def send_raw(self, from_addr: str, to_addr: str, data: bytes) -> None:
        answers = self.script.get(to_addr)
        if answers:
            answer = answers.pop(0)
            raise (mailer.PermanentFailure if answer.startswith("5") else mailer.TemporaryFailure)(answer)
        self.accepted.append((to_addr, data))

    def close(self) -> None:
        self.closed += 1


def settings(**kw) -> SimpleNamespace:
    return SimpleNamespace(**{"smtp_from": "Електронні консультації <noreply@localhost>",
                              "public_url": "https://consult.example", "smtp_batch": 5,
                              "delivery_stuck_seconds": 120.0, "smtp_sent_group": 3, **kw})


def fanout(consultation_id: uuid.UUID, title: str = "Тарифи на проїзд", category: int = 3) -> SimpleNamespace:
    return SimpleNamespace(consultation_id=consultation_id, title=title, category=category,
                           starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 16),
                           url=f"https://consult.example/consultations/{consultation_id}", question="Чи так?")
