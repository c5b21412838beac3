"""Consultations in the states a test needs, made through the API (the timer closes them)."""
from __future__ import annotations

import time
import uuid
from datetime import date, timedelta

from sqlalchemy import select, update

from chassis.db import Db, make_engine
from services.consultations.models import consultations
from chassis.workdays import local_today
from tests.support.api import Caller, dev_login, years_ago
from tests.support.samples import FULL_NOTICE, draft_body
from tests.support.waiting import eventually


def today() -> date:
    return local_today()  # the service counts days in Kyiv, whatever the machine's zone


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


def public_ids(system, cid) -> list[str]:
    return [c["id"] for c in Caller(system.base_url).get(f"/api/v1/consultations/{cid}/comments").json()["items"]]


def case_for(moderator, subject_id):
    return next((c for c in moderator.get("/api/v1/moderation/queue").json()["items"] if c["subject_id"] == subject_id), None)


def announce(system, category: int, title: str) -> dict:
    """An active consultation of ``category`` (its start-day e-mails go out to the register)."""
    official = dev_login(system.base_url, ["official"], unit="Відділ розсилок", full_name="Розсилка Ніна")
    body = draft_body(notice=FULL_NOTICE, category=category, title=title, starts_on=local_today().isoformat(),
                      ends_on=(local_today() + timedelta(days=15)).isoformat())
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    c = official.post(f"/api/v1/consultations/{cid}/publish").json()
    assert c["status"] == "active"
    return {"consultation": c, "official": official}


def closed_with_proposals(env, unit: str, texts: list[str], **over) -> dict:
    """A proposal consultation of ``unit`` with one published proposal per text (authors aged 16, 30,
    70, …), closed by its own timer, its report snapshot taken: ``{cid, ids, authors, official}``."""
    base = env.base_url
    official = dev_login(base, ["official"], unit=unit, full_name="Звітна Посадовиця Ганна")
    cid = open_consultation(official, **over)["id"]
    ids, authors = [], []
    for i, body in enumerate(texts):
        who = dev_login(base, full_name=f"Учасник Звіту {'АБВГҐДЕЄЖЗ'[i]}", birth_date=years_ago((16, 30, 70)[i % 3]))
        r = who.post(f"/api/v1/consultations/{cid}/comments", json={"body": body})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        authors.append(who)

    def published():
        items = Caller(base).get(f"/api/v1/consultations/{cid}/comments?per_page=100").json()["items"]
        return {i["id"] for i in items} == set(ids)
    assert eventually(published, seconds=15)
    close_now(env, cid)
    assert eventually(lambda: official.get(f"/api/v1/consultations/{cid}/report").status_code == 200, seconds=15)
    return {"cid": cid, "ids": ids, "authors": authors, "official": official}
