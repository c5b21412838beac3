"""The decision after a consultation (R-3.18, R-2.5) and search over consultations (R-1.4)."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from chassis.db import Db, make_engine
from chassis.workdays import local_today
from services.consultations.models import consultations
from tests.e2e.test_consultations import FULL_NOTICE, draft_body
from tests.support.api import Caller, dev_login

pytestmark = pytest.mark.system


def open_consultation(official, **over) -> dict:
    body = draft_body(notice=FULL_NOTICE, starts_on=local_today().isoformat(),
                      ends_on=(local_today() + timedelta(days=15)).isoformat(), **over)
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    published = official.post(f"/api/v1/consultations/{cid}/publish")
    assert published.status_code == 200, published.text
    return published.json()


def close_now(env, cid: str) -> None:
    """Let the consultation's last day pass (move its dates back) and wait for the service's own
    timer to close it (the test world runs it every second)."""
    engine = make_engine("consultations", env.settings())
    with Db(engine).transaction() as session:
        session.execute(update(consultations).where(consultations.c.id == uuid.UUID(cid))
                        .values(starts_on=local_today() - timedelta(days=20), ends_on=local_today() - timedelta(days=1)))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(select(consultations.c.status).where(consultations.c.id == uuid.UUID(cid))).scalar() == "closed":
                break
        time.sleep(0.2)
    engine.dispose()
    assert Caller(env.base_url).get(f"/api/v1/consultations/{cid}").json()["status"] == "closed", "the timer did not close it"


def test_decision_is_recorded_once_after_close_and_shows_the_path(env, system):
    official = dev_login(system.base_url, ["official"], unit="Управління ЖКГ", full_name="ЖКГ Роман")
    c = open_consultation(official, title="Тарифи на вивезення сміття", category=16)
    decision = {"number": "№ 415", "adopted_on": local_today().isoformat(),
                "title": "Про встановлення тарифів на вивезення побутових відходів",
                "text": "Встановити тарифи з урахуванням результатів консультації."}
    early = official.post(f"/api/v1/consultations/{c['id']}/decision", json=decision)
    assert early.status_code == 409 and early.json()["code"] == "consultation_not_closed"
    close_now(env, c["id"])
    future = official.post(f"/api/v1/consultations/{c['id']}/decision",
                           json={**decision, "adopted_on": (local_today() + timedelta(days=3)).isoformat()})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "adopted_on"
    stranger = dev_login(system.base_url, ["official"], unit="Інший відділ", full_name="Чужий Посадовець")
    assert stranger.post(f"/api/v1/consultations/{c['id']}/decision", json=decision).status_code == 403
    r = official.post(f"/api/v1/consultations/{c['id']}/decision", json=decision)
    assert r.status_code == 201, r.text
    page = Caller(system.base_url).get(f"/api/v1/consultations/{c['id']}").json()
    assert page["decision"]["number"] == "№ 415" and page["decision"]["on_time"] is True
    assert [t["status"] for t in page["timeline"]] == ["scheduled", "active", "closed", "decision"]
    again = official.post(f"/api/v1/consultations/{c['id']}/decision", json=decision)
    assert again.status_code == 409 and again.json()["code"] == "decision_exists"


def test_search_finds_ukrainian_word_forms_and_filters(system):
    official = dev_login(system.base_url, ["official"], unit="Відділ велоінфраструктури", full_name="Вело Дарина")
    marker = uuid.uuid4().hex[:6]
    bike = open_consultation(official, title=f"Велодоріжка на вулиці Шевченка {marker}", category=15,
                             question="Де облаштувати велодоріжку в центрі міста Коростеня?")
    other = open_consultation(official, title=f"Освітлення парку {marker}", category=15,
                              question="Які алеї парку освітлити насамперед цього року?")
    anyone = Caller(system.base_url)

    def found(**params) -> set[str]:
        return {c["id"] for c in anyone.get("/api/v1/consultations", params={"per_page": 100, **params}).json()["items"]}

    assert bike["id"] in found(q="велодоріжки") and other["id"] not in found(q="велодоріжки")
    assert bike["id"] in found(q="Велодоріжку Шевченка")
    assert other["id"] in found(q="освітлення") and bike["id"] not in found(q="освітлення")
    assert {bike["id"], other["id"]} <= found(unit="Відділ велоінфраструктури", year=local_today().year)
    assert not ({bike["id"], other["id"]} & found(unit="Відділ велоінфраструктури", year=2001))
    assert anyone.get("/api/v1/consultations", params={"q": "в"}).status_code == 422
