"""Moderation outcomes reach consultations by events (the moderation service arrives with its own
issue; here the test publishes its events the way it will): comments are published or removed once,
initiatives go to the competent unit, which accepts or declines them (R-3.7, R-3.9, R-3.10)."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from contracts.moderation import CommentApproved, CommentRejected, InitiativeApproved, InitiativeRejected
from chassis.workdays import local_today
from tests.support.samples import FULL_NOTICE, draft_body
from tests.support.api import Caller, dev_login
from tests.support.consultations import public_ids
from tests.support.events import publish
from tests.support.waiting import eventually

pytestmark = pytest.mark.system
MODERATOR = uuid.uuid4()


@pytest.fixture(scope="module")
def consultation(system):
    official = dev_login(system.base_url, ["official"], unit="Управління освіти", full_name="Освіта Лідія")
    body = draft_body(notice=FULL_NOTICE, starts_on=local_today().isoformat(),
                      ends_on=(local_today() + timedelta(days=15)).isoformat(), title="Шкільні маршрути")
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    return official.post(f"/api/v1/consultations/{cid}/publish").json()


def test_approved_comment_is_public_once_and_a_later_rejection_removes_it(env, system, consultation):
    """Clause R-3.5."""
    cid = consultation["id"]
    author = dev_login(system.base_url, full_name="Автор Коментаря Іван")
    comment = author.post(f"/api/v1/consultations/{cid}/comments", json={"body": "Потрібен шкільний автобус, див. www.example.com"}).json()
    assert comment["id"] not in public_ids(system, cid)
    publish(env, CommentApproved(comment_id=comment["id"], consultation_id=cid), times=3)
    assert eventually(lambda: comment["id"] in public_ids(system, cid))
    listed = Caller(system.base_url).get(f"/api/v1/consultations/{cid}/comments").json()["items"]
    assert [c["author_name"] for c in listed if c["id"] == comment["id"]] == ["Автор Коментаря Іван"]
    assert Caller(system.base_url).get(f"/api/v1/consultations/{cid}").json()["comments_published"] >= 1

    publish(env, CommentRejected(comment_id=comment["id"], consultation_id=cid, grounds=["off_topic"],
                                 note="Не стосується питання", moderator_id=MODERATOR))
    assert eventually(lambda: comment["id"] not in public_ids(system, cid))
    mine = {c["id"]: c for c in author.get("/api/v1/me/comments").json()["items"]}
    assert mine[comment["id"]]["status"] == "rejected"
    assert mine[comment["id"]]["rejection_grounds"] == ["off_topic"]
    publish(env, CommentApproved(comment_id=comment["id"], consultation_id=cid))  # late: changes nothing
    time.sleep(1.0)
    assert comment["id"] not in public_ids(system, cid)


def test_rejected_comment_grounds_are_for_the_author_only(env, system, consultation):
    """Clauses R-3.7, R-3.9."""
    cid = consultation["id"]
    author = dev_login(system.base_url, full_name="Автор Відхиленого")
    comment = author.post(f"/api/v1/consultations/{cid}/comments", json={"body": "Неприйнятний текст, пишіть на spam@example.com"}).json()
    publish(env, CommentRejected(comment_id=comment["id"], consultation_id=cid, grounds=["obscene"],
                                 moderator_id=MODERATOR))
    assert eventually(lambda: author.get("/api/v1/me/comments").json()["items"][0]["status"] == "rejected")
    other = dev_login(system.base_url, full_name="Сторонній Читач")
    assert comment["id"] not in [c["id"] for c in other.get(f"/api/v1/consultations/{cid}/comments").json()["items"]]
    own = author.get(f"/api/v1/consultations/{cid}/comments").json()["items"]
    assert [c["rejection_grounds"] for c in own if c["id"] == comment["id"]] == [["obscene"]]


def test_initiative_goes_to_the_unit_which_accepts_it_and_publishes_it_with_the_author(env, system):
    """Clauses R-3.10, R-3.11."""
    initiator = dev_login(system.base_url, full_name="Ініціатор Василь Петрович")
    unit_official = dev_login(system.base_url, ["official"], unit="Управління культури", full_name="Культура Ганна")
    unit_id = next(r["unit_id"] for r in unit_official.get("/api/v1/me").json()["roles"] if r["role"] == "official")
    init = initiator.post("/api/v1/consultations", json=draft_body(title="Фестиваль на площі Соборній",
                                                                   category=22, notice=FULL_NOTICE)).json()
    assert unit_official.get(f"/api/v1/consultations/{init['id']}").status_code == 404
    publish(env, InitiativeApproved(consultation_id=init["id"], unit_id=unit_id, unit_name="Управління культури",
                                    moderator_id=MODERATOR))
    assert eventually(lambda: unit_official.get(f"/api/v1/consultations/{init['id']}").status_code == 200)
    assert initiator.get(f"/api/v1/consultations/{init['id']}").json()["status"] == "forwarded"
    assert Caller(system.base_url).get(f"/api/v1/consultations/{init['id']}").status_code == 404

    accepted = unit_official.post(f"/api/v1/consultations/{init['id']}/initiative-decision",
                                  json={"accept": True, "conclusion": "Підтримуємо, винесемо на консультацію"})
    assert accepted.status_code == 200 and accepted.json()["status"] == "draft"
    short = unit_official.patch(f"/api/v1/consultations/{init['id']}", json={
        "starts_on": local_today().isoformat(), "ends_on": (local_today() + timedelta(days=20)).isoformat()})
    assert short.status_code == 200
    refused = unit_official.post(f"/api/v1/consultations/{init['id']}/publish")
    assert refused.status_code == 422 and refused.json()["code"] == "term_too_short"  # a month for initiatives
    unit_official.patch(f"/api/v1/consultations/{init['id']}", json={
        "ends_on": (local_today() + timedelta(days=35)).isoformat()})
    live = unit_official.post(f"/api/v1/consultations/{init['id']}/publish")
    assert live.status_code == 200 and live.json()["status"] == "active"
    page = Caller(system.base_url).get(f"/api/v1/consultations/{init['id']}").json()
    assert page["initiator_name"] == "Ініціатор Василь Петрович" and page["unit_name"] == "Управління культури"


def test_declined_and_rejected_initiatives_tell_the_initiator_why(env, system):
    """Clauses R-1.5, R-3.9, R-3.10, R-3.11."""
    initiator = dev_login(system.base_url, full_name="Ініціаторка Марта")
    unit_official = dev_login(system.base_url, ["official"], unit="Управління спорту", full_name="Спорт Іван")
    unit_id = next(r["unit_id"] for r in unit_official.get("/api/v1/me").json()["roles"] if r["role"] == "official")
    a = initiator.post("/api/v1/consultations", json=draft_body(title="Новий стадіон у парку")).json()
    b = initiator.post("/api/v1/consultations", json=draft_body(title="Агітація за кандидата")).json()
    publish(env, InitiativeApproved(consultation_id=a["id"], unit_id=unit_id, unit_name="Управління спорту",
                                    moderator_id=MODERATOR))
    publish(env, InitiativeRejected(consultation_id=b["id"], grounds=["political_campaigning"], moderator_id=MODERATOR))
    assert eventually(lambda: initiator.get(f"/api/v1/consultations/{b['id']}").json()["status"] == "rejected")
    assert initiator.get(f"/api/v1/consultations/{b['id']}").json()["outcome"]["grounds"] == ["political_campaigning"]
    assert eventually(lambda: unit_official.get(f"/api/v1/consultations/{a['id']}").status_code == 200)
    declined = unit_official.post(f"/api/v1/consultations/{a['id']}/initiative-decision",
                                  json={"accept": False, "conclusion": "Не належить до повноважень"})
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    seen = initiator.get(f"/api/v1/consultations/{a['id']}").json()
    assert seen["outcome"] == {"accepted": False, "conclusion": "Не належить до повноважень"}
    again = unit_official.post(f"/api/v1/consultations/{a['id']}/initiative-decision",
                               json={"accept": True, "conclusion": "Передумали раптом"})
    assert again.status_code == 409

    # The cabinet lists the initiator's initiatives, newest first, with what became of each.
    mine = initiator.get("/api/v1/me/initiatives")
    assert mine.status_code == 200
    assert [(i["title"], i["status"], i["outcome"]) for i in mine.json()["items"]] == [
        ("Агітація за кандидата", "rejected", {"grounds": ["political_campaigning"], "note": None}),
        ("Новий стадіон у парку", "declined", {"accepted": False, "conclusion": "Не належить до повноважень"})]
    assert unit_official.get("/api/v1/me/initiatives").json()["items"] == []  # only one's own
    assert Caller(system.base_url).get("/api/v1/me/initiatives").status_code == 401
