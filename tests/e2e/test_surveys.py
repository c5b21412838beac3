"""A survey and support of alternatives through the gateway: one answer per person per question,
changeable until close, tallies right, bad answers named and changing nothing (issue: Consultations)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chassis.workdays import local_today
from tests.support.samples import FULL_NOTICE
from tests.support.api import dev_login

pytestmark = pytest.mark.system

SURVEY = {
    "form": "survey", "title": "Опитування щодо парку Древлянський", "category": 15,
    "question": "Що варто змінити в парку Древлянський наступного року?",
    "questions": [
        {"text": "Що облаштувати насамперед?", "kind": "single", "options": ["Освітлення", "Лавки", "Туалети"]},
        {"text": "Коли ви відвідуєте парк?", "kind": "multiple", "options": ["Ранок", "День", "Вечір"]},
        {"text": "Ваші пропозиції", "kind": "text"},
    ],
}


@pytest.fixture(scope="module")
def survey(system):
    official = dev_login(system.base_url, ["official"], unit="Управління благоустрою", full_name="Благоустрій Ніна")
    incomplete = official.post("/api/v1/consultations", json={**SURVEY, "questions": []}).json()
    refused = official.post(f"/api/v1/consultations/{incomplete['id']}/publish").json()
    assert "questions" in {e["field"] for e in refused["errors"]}
    body = {**SURVEY, "notice": FULL_NOTICE, "starts_on": local_today().isoformat(),
            "ends_on": (local_today() + timedelta(days=15)).isoformat()}
    created = official.post("/api/v1/consultations", json=body).json()
    published = official.post(f"/api/v1/consultations/{created['id']}/publish")
    assert published.status_code == 200 and published.json()["status"] == "active", published.text
    return published.json()


def answers(survey, single: int, multiple: list[int], text: str | None) -> dict:
    q1, q2, q3 = survey["questions"]
    body = [{"question_id": q1["id"], "option_ids": [q1["options"][single]["id"]]},
            {"question_id": q2["id"], "option_ids": [q2["options"][i]["id"] for i in multiple]}]
    if text:
        body.append({"question_id": q3["id"], "text": text})
    return {"answers": body}


def test_tallies_count_one_answer_per_person_and_follow_changes(system, survey):
    """Clauses R-1.9, R-3.1."""
    cid = survey["id"]
    people = [dev_login(system.base_url, full_name=f"Відвідувач парку {i}") for i in range(3)]
    assert people[0].post(f"/api/v1/consultations/{cid}/responses", json=answers(survey, 0, [0, 2], "Більше тіні")).status_code == 200
    assert people[1].post(f"/api/v1/consultations/{cid}/responses", json=answers(survey, 0, [1], None)).status_code == 200
    assert people[2].post(f"/api/v1/consultations/{cid}/responses", json=answers(survey, 1, [2], None)).status_code == 200
    # person 2 changes their mind: still one answer each
    r = people[2].post(f"/api/v1/consultations/{cid}/responses", json=answers(survey, 2, [0, 1, 2], "Фонтан"))
    assert r.status_code == 200
    tallies = dev_login(system.base_url).get(f"/api/v1/consultations/{cid}/results").json()
    assert tallies["participants"] == 3
    q1, q2, q3 = tallies["questions"]
    assert [o["count"] for o in q1["options"]] == [2, 0, 1] and q1["respondents"] == 3
    assert [o["count"] for o in q2["options"]] == [2, 2, 2]
    assert q3["respondents"] == 2


def test_bad_answers_are_named_and_change_nothing(system, survey):
    """Clause R-1.9."""
    cid = survey["id"]
    person = dev_login(system.base_url, full_name="Помилковий Відповідач")
    q1, q2, q3 = survey["questions"]
    before = person.get(f"/api/v1/consultations/{cid}/results").json()
    cases = [
        ({"answers": [{"question_id": q1["id"], "option_ids": [q2["options"][0]["id"]]}]}, "answers.0.option_ids"),
        ({"answers": [{"question_id": q1["id"], "option_ids": [o["id"] for o in q1["options"][:2]]}]}, "answers.0.option_ids"),
        ({"answers": [{"question_id": q3["id"], "text": " "}]}, "answers.0.text"),
        ({"answers": [{"question_id": "00000000-0000-0000-0000-000000000009", "option_ids": []}]}, "answers.0.question_id"),
        ({"answers": [], "alternative_id": q1["options"][0]["id"]}, "alternative_id"),
    ]
    for body, field in cases:
        # a valid answer rides along: it must not be saved when another part is wrong
        body = {**body, "answers": body["answers"] + [{"question_id": q2["id"], "option_ids": [q2["options"][0]["id"]]}]}
        r = person.post(f"/api/v1/consultations/{cid}/responses", json=body)
        assert r.status_code == 422 and field in {e["field"] for e in r.json()["errors"]}, (field, r.text)
    assert person.get(f"/api/v1/consultations/{cid}/results").json() == before


def test_the_timer_closes_the_survey_and_answers_stop(env, system, survey):
    """Clauses R-1.7, R-3.1."""
    from tests.support.consultations import close_now

    person = dev_login(system.base_url, full_name="Запізнілий Респондент")
    before = person.get(f"/api/v1/consultations/{survey['id']}/results").json()
    close_now(env, survey["id"])
    late = person.post(f"/api/v1/consultations/{survey['id']}/responses", json=answers(survey, 0, [0], None))
    assert late.status_code == 409 and late.json()["code"] == "consultation_not_active"
    after = person.get(f"/api/v1/consultations/{survey['id']}/results").json()
    assert after["status"] == "closed" and after["questions"] == before["questions"]


def test_support_of_alternatives_and_no_votes_after_close(env, system):
    """Clause R-3.12."""
    official = dev_login(system.base_url, ["official"], unit="Управління транспорту", full_name="Транспорт Ольга")
    body = {"form": "proposal", "title": "Новий маршрут до вокзалу", "category": 17,
            "question": "Який маршрут до вокзалу обрати?", "notice": FULL_NOTICE,
            "alternatives": [{"text": "Через центр"}, {"text": "Через Хмільники"}],
            "starts_on": local_today().isoformat(), "ends_on": (local_today() + timedelta(days=15)).isoformat()}
    c = official.post(f"/api/v1/consultations/{official.post('/api/v1/consultations', json=body).json()['id']}/publish").json()
    alt_a, alt_b = (a["id"] for a in c["alternatives"])
    voters = [dev_login(system.base_url, full_name=f"Пасажир {i}") for i in range(3)]
    for v, alt in zip(voters, (alt_a, alt_b, alt_b)):
        assert v.post(f"/api/v1/consultations/{c['id']}/responses", json={"alternative_id": alt}).status_code == 200
    voters[2].post(f"/api/v1/consultations/{c['id']}/responses", json={"alternative_id": alt_a})
    tallies = voters[0].get(f"/api/v1/consultations/{c['id']}/results").json()
    assert [a["supporters"] for a in tallies["alternatives"]] == [2, 1]

    from tests.support.consultations import close_now

    close_now(env, c["id"])
    late = voters[1].post(f"/api/v1/consultations/{c['id']}/responses", json={"alternative_id": alt_a})
    assert late.status_code == 409 and late.json()["code"] == "consultation_not_active"
    assert [a["supporters"] for a in voters[0].get(f"/api/v1/consultations/{c['id']}/results").json()["alternatives"]] == [2, 1]
