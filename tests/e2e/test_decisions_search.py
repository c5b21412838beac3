"""The decision after a consultation (R-3.18, R-2.5) and search over consultations (R-1.4)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.consultations.models import consultations
from chassis.workdays import local_today
from tests.support.api import Caller, dev_login
from tests.support.consultations import close_now, open_consultation

pytestmark = pytest.mark.system


def test_decision_is_recorded_once_after_close_and_shows_the_path(env, system):
    """Clauses R-1.6, R-2.5, R-3.18."""
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
    """Clause R-1.4."""
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
