"""Deadlines stored and listed as overdue (R-3.10, R-3.17, R-3.18) and the archive (R-1.11)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from chassis.db import make_engine
from services.consultations.models import consultations
from contracts.reports import ReportPublished
from chassis.workdays import local_today
from tests.support.samples import draft_body
from tests.support.consultations import close_now, open_consultation
from tests.support.waiting import eventually
from tests.support.api import Caller, dev_login

pytestmark = pytest.mark.system


def publish_report(env, cid: str) -> None:
    from chassis.bus import ConfirmingPublisher, event_exchange
    from chassis.events import make_envelope

    env_ = make_envelope(ReportPublished(consultation_id=cid, report_version=1, published_at=datetime.now(timezone.utc)))
    p = ConfirmingPublisher(env.amqp_uri)
    p.publish(env_.model_dump(mode="json"), exchange=event_exchange("reports"), routing_key="report_published")
    p.close()


def test_moderation_clock_is_for_moderators(system):
    """Clause R-3.10."""
    resident = dev_login(system.base_url, full_name="Ініціатор Строків")
    moderator = dev_login(system.base_url, ["moderator"], full_name="Модератор Строків")
    init = resident.post("/api/v1/consultations", json=draft_body(title="Ініціатива щодо строків")).json()
    items = moderator.get("/api/v1/deadlines").json()["items"]
    mine = [d for d in items if d["consultation_id"] == init["id"]]
    assert [d["kind"] for d in mine] == ["moderation"] and mine[0]["overdue"] is False
    due = datetime.fromisoformat(mine[0]["due"])
    assert timedelta(days=2) <= due - datetime.now(timezone.utc) <= timedelta(days=5)  # 2 working days, Kyiv midnight
    assert resident.get("/api/v1/deadlines").status_code == 403
    assert Caller(system.base_url).get("/api/v1/deadlines").status_code == 401


def test_report_deadline_turns_overdue_and_a_report_meets_it(env, system):
    """Clause R-3.17."""
    official = dev_login(system.base_url, ["official"], unit="Відділ звітності", full_name="Звіт Оксана")
    c = open_consultation(official, title="Консультація для строків звіту")
    close_now(env, c["id"])
    report = [d for d in official.get("/api/v1/deadlines").json()["items"] if d["consultation_id"] == c["id"]]
    assert [(d["kind"], d["overdue"]) for d in report] == [("report", False)]
    engine = make_engine("consultations", env.settings())
    with engine.begin() as conn:
        conn.execute(update(consultations).where(consultations.c.id == uuid.UUID(c["id"]))
                     .values(report_due=datetime.now(timezone.utc) - timedelta(hours=1)))
    engine.dispose()
    overdue = official.get("/api/v1/deadlines?overdue=true").json()["items"]
    assert c["id"] in [d["consultation_id"] for d in overdue]
    other = dev_login(system.base_url, ["official"], unit="Чужий відділ строків", full_name="Чужий Строк")
    assert c["id"] not in [d["consultation_id"] for d in other.get("/api/v1/deadlines").json()["items"]]
    publish_report(env, c["id"])

    def done():
        rows = [d for d in official.get("/api/v1/deadlines").json()["items"] if d["consultation_id"] == c["id"]]
        return rows and rows[0]["done_at"]
    assert eventually(done)


def test_archived_consultation_is_read_only(env, system):
    """Clause R-1.11."""
    official = dev_login(system.base_url, ["official"], unit="Архівний відділ", full_name="Архів Василина")
    c = open_consultation(official, title="Консультація для архіву")
    assert official.post(f"/api/v1/consultations/{c['id']}/archive").status_code == 409  # still active
    close_now(env, c["id"])
    archived = official.post(f"/api/v1/consultations/{c['id']}/archive")
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    assert Caller(system.base_url).get(f"/api/v1/consultations/{c['id']}").json()["status"] == "archived"
    assert official.post(f"/api/v1/consultations/{c['id']}/archive").status_code == 409
    r = official.post(f"/api/v1/consultations/{c['id']}/attachments",
                      files={"file": ("a.pdf", b"%PDF-1.4 archive test", "application/pdf")})
    assert r.status_code == 409 and r.json()["code"] == "archived"
    r = official.post(f"/api/v1/consultations/{c['id']}/decision", json={
        "number": "1", "adopted_on": local_today().isoformat(), "title": "Рішення після архіву",
        "text": "Текст рішення після архівування"})
    assert r.status_code == 409


def test_archived_consultation_refuses_deletion_for_five_years(env, system):
    """R-1.11 at the database itself: whatever code or person tries, an archived consultation and its
    materials cannot be deleted until five years after the decision (here: after archiving, as no
    decision was recorded); after that the whole consultation can go."""
    import psycopg

    official = dev_login(system.base_url, ["official"], unit="Архівний відділ", full_name="Архів Василина")
    c = open_consultation(official, title="Консультація, яку не можна видалити")
    close_now(env, c["id"])
    assert official.post(f"/api/v1/consultations/{c['id']}/archive").status_code == 200
    with psycopg.connect(f"{env.database_url}/{env.db_prefix}consultations", autocommit=True) as conn:
        for sql in ("DELETE FROM consultations WHERE id = %s", "DELETE FROM status_history WHERE consultation_id = %s",
                    "DELETE FROM alternatives WHERE consultation_id = %s"):
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="retained until"):
                conn.execute(sql, (c["id"],))
        assert conn.execute("SELECT count(*) FROM status_history WHERE consultation_id = %s",
                            (c["id"],)).fetchone()[0] >= 3
        conn.execute("UPDATE consultations SET archived_at = now() - INTERVAL '5 years 1 day' WHERE id = %s",
                     (c["id"],))
        conn.execute("DELETE FROM consultations WHERE id = %s", (c["id"],))
        assert conn.execute("SELECT count(*) FROM status_history WHERE consultation_id = %s",
                            (c["id"],)).fetchone()[0] == 0
