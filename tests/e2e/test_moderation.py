"""Moderation end to end (issue: Moderation; R-1.1, R-2.1, R-3.7, R-3.10): clean comments are
public at once, obscene ones written with look-alike letters are held, rejected with a ground and
never public; one decision per case; nothing lost while the service is down; only moderators."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from chassis.db import make_engine
from services.moderation.models import screenings
from chassis.workdays import local_today
from tests.support.samples import FULL_NOTICE, draft_body
from tests.support.waiting import eventually
from tests.support.consultations import public_ids
from tests.support.api import Caller, dev_login
from tests.support.consultations import case_for

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def cast(system):
    base = system.base_url
    official = dev_login(base, ["official"], unit="Управління модерації тест", full_name="Власник Консультації")
    body = draft_body(notice=FULL_NOTICE, starts_on=local_today().isoformat(),
                      ends_on=(local_today() + timedelta(days=15)).isoformat(), title="Ремонт мосту через Уж")
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    official.post(f"/api/v1/consultations/{cid}/publish")
    return {"cid": cid, "official": official,
            "moderator": dev_login(base, ["moderator"], full_name="Модератор Степан"),
            "moderator2": dev_login(base, ["moderator"], full_name="Модераторка Ірина"),
            "resident": dev_login(base, full_name="Мешканець Тарас Ілліч"),
            "admin": dev_login(base, ["admin"], full_name="Адмін Без Модерації")}


def test_clean_comment_is_public_at_once(system, cast):
    """Clause R-3.7."""
    c = cast["resident"].post(f"/api/v1/consultations/{cast['cid']}/comments",
                              json={"body": "Прошу відремонтувати міст до осені, бо він дуже потрібен."}).json()
    started = time.monotonic()
    assert eventually(lambda: c["id"] in public_ids(system, cast["cid"]), seconds=5)
    assert time.monotonic() - started < 2.0


def test_obscene_comment_with_lookalikes_is_held_rejected_and_never_public(system, cast):
    """Clauses R-1.1, R-3.7."""
    author = dev_login(system.base_url, full_name="Лайливий Автор")
    c = author.post(f"/api/v1/consultations/{cast['cid']}/comments",
                    json={"body": "Цей міст — повна xуйня, х.у.й його полагодять"}).json()
    case = eventually(lambda: case_for(cast["moderator"], c["id"]))
    assert case and case["kind"] == "comment" and {m["rule"] for m in case["matches"]} == {"obscene"}
    assert {m["text"] for m in case["matches"]} >= {"xуйня"}
    assert case["overdue"] is False and case["due_at"]
    assert c["id"] not in public_ids(system, cast["cid"])
    no_ground = cast["moderator"].post(f"/api/v1/moderation/cases/{case['id']}/decision", json={"decision": "reject"})
    assert no_ground.status_code == 422 and no_ground.json()["code"] == "ground_required"
    r = cast["moderator"].post(f"/api/v1/moderation/cases/{case['id']}/decision",
                               json={"decision": "reject", "grounds": ["obscene"], "note": "Лайка"})
    assert r.status_code == 200 and r.json()["decision"] == "rejected"
    mine = eventually(lambda: [x for x in author.get("/api/v1/me/comments").json()["items"]
                               if x["id"] == c["id"] and x["status"] == "rejected"])
    assert mine[0]["rejection_grounds"] == ["obscene"]
    time.sleep(0.5)
    assert c["id"] not in public_ids(system, cast["cid"])
    audit = cast["moderator"].get("/api/v1/moderation/audit", params={"consultation_id": cast["cid"]}).json()["items"]
    assert {"screening", "decision"} <= {a["kind"] for a in audit}


def test_concurrent_decisions_on_one_case_exactly_one_applies(system, cast):
    """Clause R-1.1."""
    author = dev_login(system.base_url, full_name="Автор Суперечки")
    c = author.post(f"/api/v1/consultations/{cast['cid']}/comments",
                    json={"body": "Дзвоніть 067 123 45 67, все розкажу"}).json()
    case = eventually(lambda: case_for(cast["moderator"], c["id"]))
    bodies = [{"decision": "approve"}, {"decision": "reject", "grounds": ["off_topic"]}] * 4
    who = [cast["moderator"], cast["moderator2"]] * 4
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: who[i].post(f"/api/v1/moderation/cases/{case['id']}/decision",
                                                    json=bodies[i]).status_code, range(8)))
    assert sorted(codes) == [200] + [409] * 7, codes
    decided = [a for a in cast["moderator"].get("/api/v1/moderation/audit").json()["items"]
               if a["kind"] == "decision" and a["subject_id"] == c["id"]]
    assert len(decided) == 1


def test_reports_raise_priority_and_a_rejection_removes_a_published_comment(system, cast):
    """Clauses R-1.5, R-3.7."""
    author = dev_login(system.base_url, full_name="Оскаржений Автор")
    c = author.post(f"/api/v1/consultations/{cast['cid']}/comments",
                    json={"body": "Голосуйте за нашу партію на виборах, вона відремонтує міст"}).json()
    assert eventually(lambda: c["id"] in public_ids(system, cast["cid"]))  # screening cannot see campaigning
    reporters = [dev_login(system.base_url, full_name=f"Пильний Читач {i}") for i in range(3)]
    for r in reporters:
        assert r.post(f"/api/v1/comments/{c['id']}/reports", json={"reason": "Політична агітація"}).status_code == 201
    again = reporters[0].post(f"/api/v1/comments/{c['id']}/reports", json={"reason": "Ще раз"})
    assert again.status_code == 409
    queue = cast["moderator"].get("/api/v1/moderation/queue").json()["items"]
    assert queue[0]["subject_id"] == c["id"] and queue[0]["reports"] == 3 and queue[0]["source"] == "report"
    r = cast["moderator"].post(f"/api/v1/moderation/cases/{queue[0]['id']}/decision",
                               json={"decision": "reject", "grounds": ["political_campaigning"]})
    assert r.status_code == 200
    assert eventually(lambda: c["id"] not in public_ids(system, cast["cid"]))


def test_initiative_goes_through_the_queue_to_a_unit(system, cast):
    """Clause R-3.10."""
    resident = dev_login(system.base_url, full_name="Ініціаторка Олеся")
    init = resident.post("/api/v1/consultations", json=draft_body(title="Пішохідний перехід біля школи №3")).json()
    case = eventually(lambda: case_for(cast["moderator"], init["id"]))
    assert case["kind"] == "initiative"
    unit_id = next(r["unit_id"] for r in cast["official"].get("/api/v1/me").json()["roles"] if r["role"] == "official")
    missing = cast["moderator"].post(f"/api/v1/moderation/cases/{case['id']}/decision", json={"decision": "approve"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "unit_id"
    ok = cast["moderator"].post(f"/api/v1/moderation/cases/{case['id']}/decision",
                                json={"decision": "approve", "unit_id": unit_id})
    assert ok.status_code == 200
    assert eventually(lambda: resident.get(f"/api/v1/consultations/{init['id']}").json()["status"] == "forwarded")
    assert cast["official"].get(f"/api/v1/consultations/{init['id']}").status_code == 200


@pytest.mark.parametrize("role,status", [("anonymous", 401), ("resident", 403), ("official", 403),
                                         ("admin", 403), ("moderator", 200)])
def test_only_moderators_see_the_queue_and_decide(system, cast, role, status):
    """Clause R-2.1."""
    caller = Caller(system.base_url) if role == "anonymous" else cast[role]
    assert caller.get("/api/v1/moderation/queue").status_code == status
    assert caller.get("/api/v1/moderation/stats").status_code == status
    assert caller.get("/api/v1/moderation/audit").status_code == status
    if status != 200:
        r = caller.post("/api/v1/moderation/cases/00000000-0000-0000-0000-000000000001/decision",
                        json={"decision": "approve"})
        assert r.status_code == status


def test_nothing_is_lost_while_moderation_is_down(env, system, cast):
    """Clauses R-3.7, R-3.10: the screening runs where the comment is written, so clean comments are
    public while moderation is down; a held one waits, and once moderation is back every screening is
    recorded exactly once and the held comment is in the queue."""
    author = dev_login(system.base_url, full_name="Терплячий Автор")
    system.stop("moderation")
    try:
        ids = [author.post(f"/api/v1/consultations/{cast['cid']}/comments",
                           json={"body": f"Пропозиція номер {i}: відремонтувати тротуар біля мосту."}).json()["id"]
               for i in range(5)]
        held = author.post(f"/api/v1/consultations/{cast['cid']}/comments",
                           json={"body": "Деталі пропозиції на www.example.com"}).json()["id"]
        public = [x["id"] for x in Caller(system.base_url).get(
            f"/api/v1/consultations/{cast['cid']}/comments", params={"per_page": 100}).json()["items"]]
        assert set(ids) <= set(public) and held not in public  # clean ones public at once, without moderation
    finally:
        system.start("moderation")
    queue = cast["moderator"].get

    def in_queue():  # 503 while moderation starts
        r = queue("/api/v1/moderation/queue")
        return r.status_code == 200 and held in {c["subject_id"] for c in r.json()["items"]}
    assert eventually(in_queue, seconds=30)
    engine = make_engine("moderation", env.settings())

    def screened():
        with engine.connect() as conn:
            return dict(conn.execute(select(screenings.c.subject_id, func.count()).where(
                screenings.c.subject_id.in_([*ids, held])).group_by(screenings.c.subject_id)).all())
    assert eventually(lambda: len(screened()) == 6, seconds=30)
    counts = screened()
    engine.dispose()
    assert sorted(counts.values()) == [1] * 6, "every comment screened exactly once"
    assert held not in public_ids(system, cast["cid"])
