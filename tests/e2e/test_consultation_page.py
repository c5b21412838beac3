"""A consultation's page in one call (``GET /api/v1/consultations/{id}/page``, the ``page`` RPC the web
page uses) answers exactly what the three reads it replaces answer: the consultation, the page of
comments, the live tallies; for an anonymous reader and for an author who sees their own pending
comment, newest and oldest first, on later pages, for surveys and proposals."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chassis.workdays import local_today
from tests.e2e.test_consultations import FULL_NOTICE, draft_body
from tests.e2e.test_outcomes import eventually
from tests.support.api import Caller, dev_login

pytestmark = pytest.mark.system


TEXTS = ("Облаштувати лавки біля ставка", "Додати освітлення на алеях парку", "Поставити урни біля зупинки",
         "Зробити пандус до бібліотеки", "Висадити дерева вздовж тротуару", "Відремонтувати дитячий майданчик",
         "Побудувати велодоріжку до вокзалу", "Встановити питний фонтанчик у сквері", "Розширити парковку біля ринку",
         "Додати навіс на зупинці транспорту", "Прибрати сміття на набережній", "Посадити клумбу перед школою")


def dates() -> dict:
    return {"starts_on": local_today().isoformat(), "ends_on": (local_today() + timedelta(days=20)).isoformat()}


@pytest.fixture(scope="module")
def made(system):
    base = system.base_url
    official = dev_login(base, ["official"], unit="Управління сторінок", full_name="Посадовець Сторінок")
    proposal = official.post("/api/v1/consultations", json=draft_body(notice=FULL_NOTICE, **dates())).json()["id"]
    survey = official.post("/api/v1/consultations", json=draft_body(
        form="survey", title="Опитування про сторінку", alternatives=[], notice=FULL_NOTICE, **dates(),
        questions=[{"text": "Що покращити насамперед?", "kind": "multiple", "options": ["Лавки", "Світло", "Урни"]},
                   {"text": "Ваша думка", "kind": "text"}])).json()["id"]
    for cid in (proposal, survey):
        assert official.post(f"/api/v1/consultations/{cid}/publish").json()["status"] == "active"
    residents = [dev_login(base, full_name=f"Читач Сторінки {k}") for k in range(3)]
    alts = official.get(f"/api/v1/consultations/{proposal}").json()["alternatives"]
    questions = official.get(f"/api/v1/consultations/{survey}").json()["questions"]
    for k, resident in enumerate(residents):
        for j, cid in enumerate((proposal, survey)):
            for n in range(2):
                assert resident.post(f"/api/v1/consultations/{cid}/comments",
                                     json={"body": TEXTS[j * 6 + k * 2 + n]}).status_code == 201
        resident.post(f"/api/v1/consultations/{proposal}/responses", json={"alternative_id": alts[k % 2]["id"]})
        resident.post(f"/api/v1/consultations/{survey}/responses", json={"answers": [
            {"question_id": questions[0]["id"], "option_ids": [o["id"] for o in questions[0]["options"][:k + 1]]}]})
    for cid in (proposal, survey):
        ok = eventually(lambda: Caller(base).get(f"/api/v1/consultations/{cid}/comments").json()["total"] == 6, 60)
        assert ok, [(c["status"], c["body"]) for r in residents for c in r.get("/api/v1/me/comments").json()["items"]]
    # one held for moderation (a link): only its author sees it, pending
    author = residents[0]
    assert author.post(f"/api/v1/consultations/{proposal}/comments",
                       json={"body": "Детальніше тут: www.example.com"}).status_code == 201
    return {"proposal": proposal, "survey": survey, "author": author, "anonymous": Caller(base)}


@pytest.mark.parametrize("who", ["anonymous", "author"])
@pytest.mark.parametrize("kind", ["proposal", "survey"])
def test_page_answers_what_the_three_reads_answer(made, who, kind):
    caller, cid = made[who], made[kind]
    for page, per_page, order in ((1, 20, "newest"), (1, 4, "oldest"), (2, 4, "newest"), (3, 2, "oldest"), (9, 20, "newest")):
        view = caller.get(f"/api/v1/consultations/{cid}/page", params={"page": page, "per_page": per_page, "order": order})
        assert view.status_code == 200, view.text
        view = view.json()
        assert view["consultation"] == caller.get(f"/api/v1/consultations/{cid}").json()
        assert view["comments"] == caller.get(f"/api/v1/consultations/{cid}/comments", params={
            "page": page, "per_page": per_page, "order": order}).json(), (page, per_page, order)
        assert view["results"] == caller.get(f"/api/v1/consultations/{cid}/results").json()
        assert view["paragraph_comments"] == []
    pending = [c for c in caller.get(f"/api/v1/consultations/{cid}/page").json()["comments"]["items"]
               if c["status"] == "pending"]
    assert len(pending) == (1 if who == "author" and kind == "proposal" else 0)


def test_page_refuses_bad_paging_naming_the_field(made):
    r = made["anonymous"].get(f"/api/v1/consultations/{made['proposal']}/page", params={"per_page": 101})
    assert r.status_code in (400, 422) and "per_page" in r.text
