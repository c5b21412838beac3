"""Start-day e-mails to the register (R-1.10, R-3.4), exactly once, checked at the SMTP server;
one-click unsubscribe; the cabinet inbox (R-3.11). (Issue: Notifications.)"""
from __future__ import annotations

import email
import re
import time
import uuid
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
import requests

from services.workdays import today_kyiv
from tests.e2e.test_consultations import FULL_NOTICE, draft_body
from tests.e2e.test_outcomes import eventually
from tests.support.api import dev_login

pytestmark = pytest.mark.system

SEED = """
INSERT INTO persons (id, subject, full_name, birth_date, community_member, email, interests, email_enabled,
                     consent_version, consented_at, consent_withdrawn_at)
SELECT gen_random_uuid(), '{tag}-' || g, 'Отримувач ' || g, DATE '1980-01-01', true,
       'p' || g || '@{tag}.example',
       CASE WHEN g % 5 = 0 THEN '{{}}'::smallint[] ELSE ARRAY[(g % 22) + 1]::smallint[] END,
       g % 17 <> 0, CASE WHEN g % 23 = 0 THEN NULL ELSE '2026-11' END, now(),
       CASE WHEN g % 29 = 0 THEN now() END
FROM generate_series(1, {n}) AS g
"""


def expected(n: int, tag: str, category: int) -> set[str]:
    out = set()
    for g in range(1, n + 1):
        interests = [] if g % 5 == 0 else [(g % 22) + 1]
        if g % 17 and g % 23 and g % 29 and (not interests or category in interests):
            out.add(f"p{g}@{tag}.example")
    return out


def mails(mail_dir: Path, tag: str, title: str | None = None) -> list[email.message.EmailMessage]:
    """E-mails to the seeded register (``tag``), about the consultation ``title`` when given (other
    tests publish consultations too, and those who chose no category get every one)."""
    found = []
    for path in mail_dir.glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if tag in str(msg["To"]) and (title is None or title in str(msg["Subject"])):
            found.append(msg)
    return found


@pytest.fixture(scope="module")
def register(env):
    import psycopg

    tag = "n" + uuid.uuid4().hex[:8]
    with psycopg.connect(f"{env.database_url}/{env.db_prefix}registry", autocommit=True) as conn:
        conn.execute(SEED.format(tag=tag, n=1000))
    return tag


def publish(system, category: int, title: str) -> dict:
    official = dev_login(system.base_url, ["official"], unit="Відділ розсилок", full_name="Розсилка Ніна")
    body = draft_body(notice=FULL_NOTICE, category=category, title=title, starts_on=today_kyiv().isoformat(),
                      ends_on=(today_kyiv() + timedelta(days=15)).isoformat())
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    c = official.post(f"/api/v1/consultations/{cid}/publish").json()
    assert c["status"] == "active"
    return {"consultation": c, "official": official}


def test_exactly_the_right_people_get_exactly_one_email(env, system, register):
    mail_dir = Path(env.vars["MAIL_DIR"])
    want = expected(1000, register, 7)
    title = "Нове сміттєпереробне підприємство"
    started = publish(system, 7, title)
    eventually(lambda: len(mails(mail_dir, register, title)) >= len(want), seconds=90)
    time.sleep(1.5)  # any duplicate would arrive now
    got = mails(mail_dir, register, title)
    to = [re.search(r"<(.+)>", str(m["To"])).group(1) for m in got]
    assert set(to) == want and len(to) == len(want), f"{len(to)} e-mails for {len(want)} people"
    sample = got[0]
    assert sample["Subject"] == "Розпочато консультацію: Нове сміттєпереробне підприємство"
    assert sample["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = sample.get_body(("plain",)).get_content()
    assert "Нове сміттєпереробне підприємство" in text and started["consultation"]["id"] in text
    assert "Питання: Чи підтримуєте ви зміну тарифу на проїзд" in text
    assert "Проєкти актів, що можуть впливати на стан навколишнього природного середовища" in text
    assert sample.get_body(("html",)).get_content().startswith("<!doctype html>")
    progress = eventually(lambda: (p := started["official"].get(
        f"/api/v1/consultations/{started['consultation']['id']}/notifications").json())["status"] == "done" and p)
    # the register also holds persons other tests created (those with no category get everything)
    assert progress["sent"] >= len(want) and progress["queued"] == 0 and progress["failed"] == 0
    print(f"fan-out: {len(want)} recipients of 1000 persons, {len(to)} e-mails at the SMTP server")


def test_unsubscribe_link_works_once_and_forgery_is_refused(env, system, register):
    mail_dir = Path(env.vars["MAIL_DIR"])
    msg = eventually(lambda: mails(mail_dir, register))[0]
    url = re.search(r"<(.+)>", msg["List-Unsubscribe"]).group(1)
    path = url.split("/api/v1", 1)[1]
    one_click = {"data": "List-Unsubscribe=One-Click",
                 "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
    r = requests.post(system.base_url + "/api/v1" + path, timeout=10, **one_click)
    assert r.status_code == 200 and r.json()["unsubscribed"] is True
    again = requests.post(system.base_url + "/api/v1" + path, timeout=10, **one_click)
    assert again.status_code == 409 and again.json()["code"] == "unsubscribe_token_used"
    forged = requests.post(system.base_url + "/api/v1/unsubscribe", params={"token": "eyJwIjoiMSJ9.forgedsignature"},
                           timeout=10, **one_click)
    assert forged.status_code == 422 and forged.json()["code"] == "unsubscribe_token_invalid"

    import psycopg

    address = re.search(r"<(.+)>", str(msg["To"])).group(1)
    with psycopg.connect(f"{env.database_url}/{env.db_prefix}registry") as conn:
        assert conn.execute("SELECT email_enabled FROM persons WHERE email = %s", (address,)).fetchone()[0] is False


def test_killed_mid_fanout_every_recipient_still_gets_one_email(env, system, register):
    mail_dir = Path(env.vars["MAIL_DIR"])
    want = expected(1000, register, 12)  # the person who unsubscribed above may drop out
    title = "Дозвіл на спеціальне водокористування"
    publish(system, 12, title)

    def ours():
        return mails(mail_dir, register, title)

    assert eventually(lambda: len(ours()) >= 5, seconds=60)
    system.kill("notifications")  # SIGKILL in the middle of sending
    sent_before = len(ours())
    system.start("notifications")
    eventually(lambda: len({m["To"] for m in ours()}) >= len(want) - 1, seconds=120)
    time.sleep(2.0)
    got = ours()
    per_person: dict[str, set] = {}
    for m in got:
        per_person.setdefault(str(m["To"]), set()).add(m["Message-ID"])
    assert all(len(ids) == 1 for ids in per_person.values()), "one Message-ID per recipient"
    raw_duplicates = len(got) - len(per_person)
    print(f"kill mid fan-out: {sent_before} sent before the kill, {len(per_person)} recipients, "
          f"{raw_duplicates} raw duplicates (only between the SMTP 250 and the commit; same Message-ID)")
    assert raw_duplicates <= 2
    assert len(want) - 1 <= len(per_person) <= len(want)


def test_cabinet_inbox_tells_the_author_and_initiator(system):
    moderator = dev_login(system.base_url, ["moderator"], full_name="Модератор Скриньки")
    author = dev_login(system.base_url, full_name="Автор Скриньки")
    official = dev_login(system.base_url, ["official"], unit="Відділ скриньки", full_name="Скринька Ольга")
    body = draft_body(notice=FULL_NOTICE, starts_on=today_kyiv().isoformat(),
                      ends_on=(today_kyiv() + timedelta(days=15)).isoformat(), title="Скринька для пропозицій")
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    official.post(f"/api/v1/consultations/{cid}/publish")
    c = author.post(f"/api/v1/consultations/{cid}/comments", json={"body": "Повна хуйня, а не проєкт"}).json()
    case = eventually(lambda: next((x for x in moderator.get("/api/v1/moderation/queue").json()["items"]
                                    if x["subject_id"] == c["id"]), None), seconds=20)
    assert case, "the obscene comment must be held in the queue"
    decided = moderator.post(f"/api/v1/moderation/cases/{case['id']}/decision",
                             json={"decision": "reject", "grounds": ["obscene"]})
    assert decided.status_code == 200, decided.text
    mine = eventually(lambda: [i for i in author.get("/api/v1/me/notifications").json()["items"]
                               if i["title"] == "Ваш коментар не оприлюднено"], seconds=20)
    assert mine, author.get("/api/v1/me/notifications").json()
    assert "Ненормативна лексика" in mine[0]["body"]
    assert author.get("/api/v1/me/notifications").json()["unread"] >= 1
    assert author.post("/api/v1/me/notifications/read", json={}).json()["marked"] >= 1
    assert author.get("/api/v1/me/notifications").json()["unread"] == 0
