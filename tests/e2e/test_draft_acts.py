"""A draft act through the gateway: numbered paragraphs, comments on one paragraph, a new version
whose diff shows what changed and how many comments each paragraph had (issue: Consultations)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.moderation import CommentApproved
from chassis.workdays import local_today
from tests.support.samples import FULL_NOTICE
from tests.support.waiting import eventually
from tests.support.events import publish
from tests.support.api import Caller, dev_login
from tests.support.samples import V1, V2

pytestmark = pytest.mark.system


def test_draft_act_paragraphs_comments_and_versions(env, system):
    """Clauses R-1.9, R-3.1."""
    official = dev_login(system.base_url, ["official"], unit="Юридичне управління", full_name="Юрист Олена")
    body = {"form": "draft_act", "title": "Проєкт рішення про тарифи на проїзд", "category": 17,
            "question": "Обговорення проєкту рішення виконавчого комітету про тарифи",
            "notice": FULL_NOTICE, "starts_on": local_today().isoformat(),
            "ends_on": (local_today() + timedelta(days=15)).isoformat()}
    draft = official.post("/api/v1/consultations", json=body).json()
    refused = official.post(f"/api/v1/consultations/{draft['id']}/publish").json()
    assert "draft_text" in {e["field"] for e in refused["errors"]}
    official.patch(f"/api/v1/consultations/{draft['id']}", json={"draft_text": V1})
    act = official.post(f"/api/v1/consultations/{draft['id']}/publish").json()
    assert act["status"] == "active" and act["draft_version"] == 1
    assert [p["number"] for p in act["paragraphs"]] == [1, 2, 3]
    first, second, third = act["paragraphs"]

    resident = dev_login(system.base_url, full_name="Уважний Читач Проєкту")
    c = resident.post(f"/api/v1/consultations/{act['id']}/comments",
                      json={"body": "12 гривень замало для перевізників", "paragraph_id": first["id"]}).json()
    assert c["paragraph_id"] == first["id"]
    bad = resident.post(f"/api/v1/consultations/{act['id']}/comments",
                        json={"body": "Коментар", "paragraph_id": act["id"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "paragraph_id"
    publish(env, CommentApproved(comment_id=c["id"], consultation_id=act["id"]))
    anyone = Caller(system.base_url)
    assert eventually(lambda: anyone.get(f"/api/v1/consultations/{act['id']}/comments",
                                         params={"paragraph_id": first["id"]}).json()["total"] == 1)
    assert anyone.get(f"/api/v1/consultations/{act['id']}/comments",
                      params={"paragraph_id": second["id"]}).json()["total"] == 0

    revised = official.post(f"/api/v1/consultations/{act['id']}/versions",
                            json={"draft_text": V2, "note": "Враховано пропозиції щодо тарифу"})
    assert revised.status_code == 201 and revised.json()["draft_version"] == 2
    diff = anyone.get(f"/api/v1/consultations/{act['id']}/versions/1/diff/2").json()
    assert [(p["change"], p["comments"]) for p in diff["paragraphs"]] == [
        ("changed", 1), ("same", 0), ("added", 0), ("changed", 0)]
    assert diff["paragraphs"][0]["paragraph_id"] == first["id"]
    assert "15 гривень" in diff["paragraphs"][0]["after"] and "12 гривень" in diff["paragraphs"][0]["before"]
    assert anyone.get(f"/api/v1/consultations/{act['id']}/versions/1/diff/7").status_code == 404
    assert resident.post(f"/api/v1/consultations/{act['id']}/versions", json={"draft_text": V1}).status_code == 403
