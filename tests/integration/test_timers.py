"""Timers open consultations on their start date and close them after their last day, exactly once
each, with several service instances running the timer at once (FOR UPDATE SKIP LOCKED)."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from chassis.db import make_engine
from chassis.outbox import outbox
from chassis.workdays import local_today
from services.consultations.models import consultations, status_history

N = 25


def test_two_more_instances_open_and_close_each_consultation_exactly_once(env, system):
    """Clause R-1.7."""
    engine = make_engine("consultations", env.settings())
    today = local_today()
    to_open, to_close = [uuid.uuid4() for _ in range(N)], [uuid.uuid4() for _ in range(N)]
    common = dict(form="proposal", category=5, question="Питання для перевірки таймера",
                  title="Перевірка таймера", unit_name="Тест")
    with engine.begin() as conn:
        conn.execute(consultations.insert(), [
            {**common, "id": i, "status": "scheduled", "starts_on": today, "ends_on": today + timedelta(days=20)}
            for i in to_open] + [
            {**common, "id": i, "status": "active", "starts_on": today - timedelta(days=20),
             "ends_on": today - timedelta(days=1)} for i in to_close])
    for n in (1, 2):
        system.start(f"consultations-timer-{n}", system.commands["consultations"],
                     env={"TIMER_INTERVAL_SECONDS": "0.2"})
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(select(func.count()).select_from(consultations).where(
                    (consultations.c.id.in_(to_open) & (consultations.c.status == "scheduled"))
                    | (consultations.c.id.in_(to_close) & (consultations.c.status == "active")))).scalar_one()
            if left == 0:
                break
            time.sleep(0.3)
        time.sleep(1.0)  # let every instance tick again: nothing more may happen
    finally:
        for n in (1, 2):
            system.stop(f"consultations-timer-{n}")
    with engine.connect() as conn:
        status = dict(conn.execute(select(consultations.c.id, consultations.c.status)
                                   .where(consultations.c.id.in_(to_open + to_close))).all())
        moves = conn.execute(select(status_history.c.consultation_id, func.count())
                             .where(status_history.c.consultation_id.in_(to_open + to_close))
                             .group_by(status_history.c.consultation_id)).all()
        events = conn.execute(select(outbox.c.type, outbox.c.envelope["data"]["consultation_id"].astext)
                              .where(outbox.c.type.in_(["consultation_published", "consultation_closed"]))).all()
    engine.dispose()
    assert all(status[i] == "active" for i in to_open), "every due consultation opened"
    assert all(status[i] == "closed" for i in to_close), "every finished consultation closed"
    assert sorted(c for _, c in moves) == [1] * (2 * N), "each moved exactly once"
    published = [c for t, c in events if t == "consultation_published" and uuid.UUID(c) in to_open]
    closed = [c for t, c in events if t == "consultation_closed" and uuid.UUID(c) in to_close]
    assert len(published) == len(set(published)) == N
    assert len(closed) == len(set(closed)) == N
