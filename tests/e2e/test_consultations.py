"""Consultations core through the gateway: drafting, the R-3.13 check, publishing, initiatives,
comments and eligibility (issues: Consultations; Registry and identity, R-1.3)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from tests.support.api import Caller, dev_login, years_ago
from tests.support.consultations import today
from tests.support.samples import FULL_NOTICE, draft_body

pytestmark = pytest.mark.system

UNIT = "Управління транспорту"


@pytest.fixture(scope="module")
def cast(system):
    base = system.base_url
    return {
        "official": dev_login(base, ["official"], unit=UNIT, full_name="Посадовиця Тетяна"),
        "other_official": dev_login(base, ["official"], unit="Відділ культури", full_name="Інший Посадовець"),
        "moderator": dev_login(base, ["moderator"], full_name="Модераторка Віра"),
        "resident": dev_login(base, full_name="Мешканець Богдан Олегович"),
        "kid": dev_login(base, full_name="Школярка Оля", birth_date=years_ago(13)),
        "outsider": dev_login(base, full_name="Приїжджий Сергій", community_member=False),
        "anonymous": Caller(base),
    }


def test_official_drafts_publishing_is_refused_until_the_notice_is_complete(system, cast):
    """Clauses R-1.12, R-3.13."""
    official = cast["official"]
    r = official.post("/api/v1/consultations", json=draft_body())
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft" and draft["unit_name"] == UNIT
    assert "holder" in draft["missing_for_publication"]
    cid = draft["id"]
    for who in ("anonymous", "resident", "other_official"):
        assert cast[who].get(f"/api/v1/consultations/{cid}").status_code == 404, who
    assert cast["moderator"].get(f"/api/v1/consultations/{cid}").status_code == 200

    refused = official.post(f"/api/v1/consultations/{cid}/publish")
    assert refused.status_code == 422 and refused.json()["code"] == "notice_incomplete"
    fields = {e["field"] for e in refused.json()["errors"]}
    assert {"holder", "materials", "responsible_official", "starts_on", "ends_on"} <= fields
    assert "відповідальна посадова особа" in refused.json()["detail"]

    short = official.patch(f"/api/v1/consultations/{cid}", json={
        "notice": FULL_NOTICE, "starts_on": today().isoformat(),
        "ends_on": (today() + timedelta(days=10)).isoformat()})
    assert short.status_code == 200 and short.json()["missing_for_publication"] == []
    refused = official.post(f"/api/v1/consultations/{cid}/publish")
    assert refused.status_code == 422 and refused.json()["code"] == "term_too_short"
    assert cast["other_official"].post(f"/api/v1/consultations/{cid}/publish").status_code == 404

    official.patch(f"/api/v1/consultations/{cid}", json={"ends_on": (today() + timedelta(days=20)).isoformat()})
    published = official.post(f"/api/v1/consultations/{cid}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "active"
    public = cast["anonymous"].get(f"/api/v1/consultations/{cid}")
    assert public.status_code == 200 and public.json()["missing_for_publication"] is None
    assert cid in [c["id"] for c in cast["anonymous"].get("/api/v1/consultations?category=17").json()["items"]]
    again = official.patch(f"/api/v1/consultations/{cid}", json={"title": "Інша назва консультації"})
    assert again.status_code == 409 and again.json()["code"] == "not_a_draft"


@pytest.fixture(scope="module")
def active(system, cast):
    official = cast["official"]
    body = draft_body(notice=FULL_NOTICE, starts_on=today().isoformat(),
                      ends_on=(today() + timedelta(days=30)).isoformat(), title="Маршрут автобуса №5")
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    c = official.post(f"/api/v1/consultations/{cid}/publish").json()
    assert c["status"] == "active", c  # starts today: opened at once
    return c


def test_resident_comments_stay_pending_and_visible_only_to_the_author(cast, active):
    """Clauses R-3.5, R-3.12."""
    cid = active["id"]
    resident = cast["resident"]
    held = "Пропоную зберегти пільги для студентів, деталі на www.example.com"  # a link: held for a person
    r = resident.post(f"/api/v1/consultations/{cid}/comments",
                      json={"body": held, "alternative_id": active["alternatives"][1]["id"]})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending" and r.json()["author_name"] == "Мешканець Богдан Олегович"
    mine = resident.get(f"/api/v1/consultations/{cid}/comments").json()
    assert [c["id"] for c in mine["items"]] == [r.json()["id"]]
    assert cast["anonymous"].get(f"/api/v1/consultations/{cid}/comments").json()["items"] == []
    bad = resident.post(f"/api/v1/consultations/{cid}/comments",
                        json={"body": "Коментар", "alternative_id": "00000000-0000-0000-0000-000000000001"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "alternative_id"
    extra = resident.post(f"/api/v1/consultations/{cid}/comments", json={"body": "Коментар", "status": "published"})
    assert extra.status_code == 422 and extra.json()["errors"][0]["field"] == "body.status"


@pytest.mark.parametrize("who,code", [("kid", "under_14"), ("outsider", "not_community_member")])
def test_ineligible_persons_may_read_but_not_comment_or_initiate(cast, active, who, code):
    """Clause R-1.3."""
    person = cast[who]
    assert person.get(f"/api/v1/consultations/{active['id']}").status_code == 200
    r = person.post(f"/api/v1/consultations/{active['id']}/comments", json={"body": "Мій коментар"})
    assert r.status_code == 403 and r.json()["code"] == code, r.text
    r = person.post("/api/v1/consultations", json=draft_body(title="Моя ініціатива про сквер"))
    assert r.status_code == 403 and r.json()["code"] == code
    assert r.json()["errors"][0]["type"] == code


def test_anonymous_cannot_comment(cast, active):
    """Clause R-3.7."""
    r = cast["anonymous"].post(f"/api/v1/consultations/{active['id']}/comments", json={"body": "Анонімно"})
    assert r.status_code == 401


def test_initiative_is_visible_only_to_its_author_and_moderators(system, cast):
    """Clause R-3.10."""
    resident = cast["resident"]
    r = resident.post("/api/v1/consultations", json=draft_body(
        title="Облаштувати велодоріжку на вулиці Шевченка", category=15, form="proposal"))
    assert r.status_code == 201, r.text
    initiative = r.json()
    assert initiative["status"] == "submitted"
    assert initiative["moderation_mark"] == "Ваше повідомлення знаходиться на модерації"
    assert initiative["initiator_name"] == "Мешканець Богдан Олегович"
    cid = initiative["id"]
    assert resident.get(f"/api/v1/consultations/{cid}").status_code == 200
    assert cast["moderator"].get(f"/api/v1/consultations/{cid}").status_code == 200
    for who in ("anonymous", "official", "kid"):
        assert cast[who].get(f"/api/v1/consultations/{cid}").status_code == 404, who
    assert cid not in [c["id"] for c in cast["anonymous"].get("/api/v1/consultations").json()["items"]]
    act = resident.post("/api/v1/consultations", json=draft_body(form="draft_act", title="Проєкт рішення ради"))
    assert act.status_code == 422 and act.json()["errors"][0]["field"] == "form"


def test_bad_input_is_named_and_changes_nothing(cast):
    """Clause R-1.13."""
    official = cast["official"]
    before = cast["moderator"].get("/api/v1/consultations?per_page=100").json()["total"]
    r = official.post("/api/v1/consultations", json=draft_body(category=23))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.category"
    r = official.post("/api/v1/consultations", json=draft_body(
        starts_on="2027-03-10", ends_on="2027-03-01"))
    assert r.status_code == 422 and r.json()["code"] == "end_before_start"
    r = official.post("/api/v1/consultations", json=draft_body(status="active"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.status"
    r = requests.get(cast["official"].base + "/api/v1/consultations?status=unknown", timeout=5)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.status"
    assert cast["moderator"].get("/api/v1/consultations?per_page=100").json()["total"] == before
