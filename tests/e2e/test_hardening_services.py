"""Hardening of the services, end to end (docs/hardening.md, "Services"): a
line break in an old title fails its own e-mails only, dates bounded and feeds that survive an old
row, refused file names that store nothing, the plan's existence oracle, formulas in open data, and
the moderators' queue a page at a time."""
from __future__ import annotations

import csv
import io
import re
import uuid
from urllib.parse import quote
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from chassis.workdays import local_today
from tests.support.samples import PDF
from tests.support.samples import FULL_NOTICE, draft_body
from tests.support.mail import mails
from tests.support.waiting import eventually
from tests.support.api import Caller, dev_login
from tests.support.browser import browser, login, new_page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.system

SEED = """
INSERT INTO persons (id, subject, full_name, birth_date, community_member, email, interests, email_enabled,
                     consent_version, consented_at)
SELECT gen_random_uuid(), '{tag}-' || g, 'Отримувач ' || g, DATE '1980-01-01', true, 'p' || g || '@{tag}.example',
       ARRAY[{category}]::smallint[], true, '2026-11', now()
FROM generate_series(1, {n}) AS g
"""


def sql(env, service: str, statement: str, *params) -> list:
    with psycopg.connect(f"{env.database_url}/{env.db_prefix}{service}", autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def official(system):
    return dev_login(system.base_url, ["official"], unit="Відділ перевірки меж", full_name="Межова Оксана")


def published(official, title: str, category: int = 9, days: int = 20, before=None) -> dict:
    body = draft_body(notice=FULL_NOTICE, category=category, title=title, starts_on=local_today().isoformat(),
                      ends_on=(local_today() + timedelta(days=days)).isoformat())
    r = official.post("/api/v1/consultations", json=body)
    assert r.status_code == 201, r.text
    if before:
        before(r.json()["id"])
    c = official.post(f"/api/v1/consultations/{r.json()['id']}/publish")
    assert c.status_code == 200 and c.json()["status"] == "active", c.text
    return c.json()


# ---- a line break in an old title (R-1.10) ------------------------------------------------------------

def test_an_unbuildable_email_fails_its_rows_with_a_reason_and_the_rest_go_out(env, system, official):
    """A title with a line feed, written straight into the database as an old row would be: its
    e-mails fail for good, counted as `unbuildable`, while another consultation's all go out (R-1.10)."""
    tag, bad_cat, good_cat, n = "nl" + uuid.uuid4().hex[:6], 20, 21, 12
    for category in (bad_cat, good_cat):
        sql(env, "registry", SEED.format(tag=f"{tag}{category}", n=n, category=category))
    broken = published(official, "Стара назва з переносом", bad_cat, before=lambda cid: sql(
        env, "consultations", "UPDATE consultations SET title = %s WHERE id = %s",
        "Стара назва\nBcc: victim@evil.example", cid))
    good_title = f"Сквер біля школи {tag}"
    fine = published(official, good_title, good_cat)

    def progress(c):
        return official.get(f"/api/v1/consultations/{c['id']}/notifications").json()

    bad = eventually(lambda: (p := progress(broken)).get("status") == "done" and p, seconds=60)
    assert bad, progress(broken)
    assert bad["queued"] == 0 and bad["sent"] == 0 and bad["failed"] == bad["recipients"] >= n, bad
    assert bad["failed_reasons"] == {"unbuildable": bad["recipients"]}, bad
    mail_dir = Path(env.vars["MAIL_DIR"])
    assert eventually(lambda: len(mails(mail_dir, f"{tag}{good_cat}", good_title)) == n, seconds=60)
    good = eventually(lambda: (p := progress(fine))["status"] == "done" and p, seconds=60)
    assert good["sent"] == good["recipients"] and good["failed"] == 0, good
    assert not mails(mail_dir, f"{tag}{bad_cat}"), "nothing of the broken consultation may go out"
    rows = sql(env, "notifications", "SELECT status, last_error FROM deliveries WHERE consultation_id = %s",
               uuid.UUID(broken["id"]))
    assert {(s, e) for s, e in rows} == {("failed", "unbuildable: ValueError")}
    log = system.logs("notifications")
    assert "message cannot be built" in log and "victim@evil.example" not in log and "Отримувач" not in log


# ---- dates and feeds ----------------------------------------------------------------------------------

def test_far_dates_are_refused_naming_the_field_and_feeds_survive_an_old_row(env, system, official):
    far = official.post("/api/v1/consultations", json=draft_body(starts_on=local_today().isoformat(),
                                                                 ends_on="9999-12-31"))
    assert far.status_code == 422 and {e["field"] for e in far.json()["errors"]} == {"ends_on"}, far.text
    draft = official.post("/api/v1/consultations", json=draft_body()).json()
    patched = official.patch(f"/api/v1/consultations/{draft['id']}", json={"starts_on": "9999-12-01"})
    assert patched.status_code == 422 and [e["field"] for e in patched.json()["errors"]] == ["starts_on"]
    long = official.patch(f"/api/v1/consultations/{draft['id']}", json={
        "starts_on": local_today().isoformat(), "ends_on": (local_today() + timedelta(days=400)).isoformat()})
    assert long.status_code == 422 and long.json()["code"] == "term_too_long", long.text
    assert official.get(f"/api/v1/consultations/{draft['id']}").json()["starts_on"] is None  # nothing changed

    old, ok = published(official, "Стара консультація з датою 9999"), published(official, "Звичайна консультація")
    sql(env, "consultations", "UPDATE consultations SET ends_on = DATE '9999-12-31' WHERE id = %s", old["id"])
    anonymous = Caller(system.base_url)
    ics = anonymous.get("/api/v1/feeds/consultations.ics")
    assert ics.status_code == 200, ics.text[:500]
    assert f"consultation-{ok['id']}" in ics.text and f"consultation-{old['id']}" not in ics.text
    for path in ("/api/v1/feeds/consultations.atom", "/api/v1/open-data/consultations.json",
                 "/api/v1/open-data/consultations.csv"):
        assert anonymous.get(path).status_code == 200, path
    # a published consultation's dates cannot be corrected through the API: editing is for drafts
    assert official.patch(f"/api/v1/consultations/{old['id']}", json={"ends_on": "2027-01-31"}).status_code == 409


# ---- attachments: names that store nothing --------------------------------------------------------------

def upload_raw(caller, cid: str, name: str, data: bytes, title: str | None):
    """A multipart upload written by hand: the file name as RFC 2231 ``filename*`` (any character,
    a line feed too: HTTP clients escape them in a plain ``filename``), the title as raw UTF-8."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8\'\'{quote(name, safe="")}'
            f'\r\nContent-Type: application/pdf\r\n\r\n').encode() + data + b"\r\n"
    if title is not None:
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n{title}\r\n').encode()
    body += f"--{boundary}--\r\n".encode()
    return caller.post(f"/api/v1/consultations/{cid}/attachments", data=body,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

@pytest.mark.parametrize("name,title,field", [
    ("звіт\x00.pdf", "Звіт", "filename"), ("звіт.pdf", "Назва\x00з нулем", "title"),
    ("рядок\n" + "0" * 64 + "  consultation.json", "Звіт", "filename"),
    ("invoice\u202efdp.pdf", "Рахунок", "filename"), ("звіт.pdf", "Назва\u2028друга", "title"),
])
def test_a_refused_file_name_or_title_is_422_and_stores_no_blob(env, system, official, name, title, field):
    import hashlib

    draft = official.post("/api/v1/consultations", json=draft_body()).json()
    data = PDF + uuid.uuid4().hex.encode()  # a blob no other test stores
    r = upload_raw(official, draft["id"], name, data, title)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == [field], r.text
    digest = hashlib.sha256(data).hexdigest()
    assert not (Path(env.vars["FILE_STORE"]) / digest[:2] / digest).exists(), "an orphan blob was stored"
    assert official.get(f"/api/v1/consultations/{draft['id']}").json()["attachments"] == []


# ---- the plan: no existence oracle (R-3.3) -----------------------------------------------------------------

def test_linking_a_plan_entry_to_a_consultation_the_official_may_not_see_answers_as_unknown(env, system, official):
    other_unit = dev_login(system.base_url, ["official"], unit="Чужий відділ", full_name="Чужа Посадовиця")
    hidden_draft = other_unit.post("/api/v1/consultations", json=draft_body(title="Чужа чернетка")).json()
    resident = dev_login(system.base_url, full_name="Ініціаторка Плану")
    initiative = resident.post("/api/v1/consultations", json=draft_body(title="Ініціатива на модерації",
                                                                        notice=FULL_NOTICE)).json()
    assert initiative["status"] == "submitted"
    year = local_today().year
    entry = official.post(f"/api/v1/plan/{year}/entries", json={"title": "Запланована консультація", "category": 5})
    assert entry.status_code == 201, entry.text
    url = f"/api/v1/plan/entries/{entry.json()['id']}"
    unknown = official.patch(url, json={"consultation_id": str(uuid.uuid4())})
    assert unknown.status_code == 422
    for hidden in (hidden_draft["id"], initiative["id"]):
        r = official.patch(url, json={"consultation_id": hidden})
        same = {k: v for k, v in r.json().items() if k != "request_id"}
        assert (r.status_code, same) == (unknown.status_code, {k: v for k, v in unknown.json().items()
                                                               if k != "request_id"}), r.text
    mine = official.post("/api/v1/consultations", json=draft_body(title="Своя чернетка")).json()
    assert official.patch(url, json={"consultation_id": mine["id"]}).status_code == 200
    # an old link to a hidden consultation (made before this rule) never shows on the public plan
    sql(env, "consultations", "UPDATE plan_entries SET consultation_id = %s WHERE id = %s",
        hidden_draft["id"], entry.json()["id"])
    public = Caller(system.base_url).get(f"/api/v1/plan/{year}").json()["items"]
    shown = next(e for e in public if e["id"] == entry.json()["id"])
    assert shown["consultation_id"] is None
    assert hidden_draft["id"] not in Caller(system.base_url).get(f"/api/v1/plan/{year}.ics").text


# ---- formulas in open data (R-1.4) ---------------------------------------------------------------------------

def test_open_data_csv_cells_are_never_formulas(system, official):
    c = published(official, "=2+3 Формула в назві")
    rows = list(csv.reader(io.StringIO(Caller(system.base_url).get("/api/v1/open-data/consultations.csv")
                                       .content.decode("utf-8-sig"), newline="")))
    row = next(r for r in rows if r[0] == c["id"])
    assert row[3] == "'=2+3 Формула в назві"
    assert not [cell for r in rows[1:] for cell in r if cell[:1] in ("=", "+", "@", "\t", "\r")]


# ---- the moderators' queue, a page at a time (R-3.7, R-3.10) ------------------------------------------------

@pytest.fixture(scope="module")
def held_cases(system, official):
    c = published(official, "Консультація для черги модерації", category=11)
    authors = [dev_login(system.base_url, full_name=f"Автор Черги {i}") for i in range(3)]
    texts = [f"Деталі на https://spam{i}.example.com/buy" if i % 3 else f"Пишіть на spam{i}@poshta.kyiv"
             for i in range(13)]
    for i, text in enumerate(texts):
        r = authors[i % 3].post(f"/api/v1/consultations/{c['id']}/comments", json={"body": text})
        assert r.status_code == 201, r.text
    moderator = dev_login(system.base_url, ["moderator"], full_name="Модераторка Сторінок")

    def ours():
        q = moderator.get("/api/v1/moderation/queue", params={"consultation_id": c["id"]}).json()
        return q["total"] == len(texts) and q

    assert eventually(ours, seconds=30), "the screening did not hold every comment"
    return {"consultation": c, "moderator": moderator, "texts": texts}


def test_the_queue_is_paged_by_keyset_and_filtered(system, held_cases):
    moderator, cid, texts = held_cases["moderator"], held_cases["consultation"]["id"], held_cases["texts"]
    seen, after, pages = [], None, 0
    while True:
        params = {"consultation_id": cid, "limit": 5, **({"after": after} if after else {})}
        page = moderator.get("/api/v1/moderation/queue", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["total"] == len(texts) and len(body["items"]) <= 5
        seen += [case["id"] for case in body["items"]]
        pages, after = pages + 1, body["next_after"]
        if not after:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == len(texts)
    emails = moderator.get("/api/v1/moderation/queue", params={"consultation_id": cid, "rule": "email"}).json()
    assert emails["total"] == 5 and all(any(m["rule"] == "email" for m in case["matches"]) for case in emails["items"])
    links = moderator.get("/api/v1/moderation/queue", params={"consultation_id": cid, "rule": "link",
                                                              "kind": "comment"}).json()
    assert links["total"] == 8
    assert moderator.get("/api/v1/moderation/queue", params={"consultation_id": cid, "kind": "initiative"}
                         ).json()["total"] == 0
    for bad in ({"after": "не-курсор"}, {"rule": "невідоме"}, {"limit": 0}, {"kind": "x"}):
        r = moderator.get("/api/v1/moderation/queue", params=bad)
        assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith(next(iter(bad))), r.text


def test_the_queue_page_links_reach_every_case_once(system, held_cases, new_page):  # noqa: F811
    base, cid = system.base_url, held_cases["consultation"]["id"]
    page = new_page()
    login(page, base, "Модераторка Веб Сторінок", roles=("resident", "moderator"), next_path="/moderation")
    page.goto(f"{base}/moderation?consultation_id={cid}&limit=5")
    seen, pages = [], 0
    while True:
        pages += 1
        assert f"Черга модерації ({len(held_cases['texts'])})" in page.locator("h1").inner_text()
        seen += [a.get_attribute("aria-labelledby") for a in page.locator("article.case").all()]
        nxt = page.get_by_role("link", name="Наступна сторінка")
        if nxt.count() == 0:
            break
        assert f"consultation_id={cid}" in nxt.get_attribute("href")
        nxt.click()
        assert page.get_by_role("link", name="Перша сторінка").count() == 1
    assert pages == 3 and len(seen) == len(set(seen)) == len(held_cases["texts"])
    page.goto(f"{base}/moderation?after=not-a-cursor")
    assert "значення next_after попередньої сторінки" in page.content()  # refused, the first page shown
    page.goto(f"{base}/moderation?consultation_id={cid}")
    page.get_by_label("Що знайдено").select_option("email")
    page.get_by_role("button", name="Показати").click()
    assert re.search(r"rule=email", page.url) and page.locator("article.case").count() == 5


# ---- screening that invisible characters do not fool (R-3.7) -------------------------------------------------

BYPASSES = ["х\u200bуйня", "х\u00adуйня", "х\u0301уйня", "ｈｕｙ", "f\u200buck", "a\u200b@evil.example", "йобаний",
            "йoбаний", "пройобати"]


def test_invisible_characters_and_lookalikes_go_to_the_moderators_not_published_r_3_7(system, official):
    c = published(official, "Консультація про обхід перевірки", category=12)
    author = dev_login(system.base_url, full_name="Автор Обходів")
    ids = []
    for i, text in enumerate(BYPASSES):
        r = author.post(f"/api/v1/consultations/{c['id']}/comments", json={"body": f"Думка {i}: {text} і все"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    # a copy with a trailing dot, a zero-width space or one Latin look-alike is the same comment (409)
    first = author.post(f"/api/v1/consultations/{c['id']}/comments", json={"body": "Прошу встановити лавки"})
    assert first.status_code == 201
    for copy in ("Прошу встановити лавки.", "Прошу встановити лав\u200bки", "Прошу встановити лaвки"):
        again = author.post(f"/api/v1/consultations/{c['id']}/comments", json={"body": copy})
        assert again.status_code == 409 and again.json()["code"] == "duplicate_comment", (copy, again.text)
    moderator = dev_login(system.base_url, ["moderator"], full_name="Модератор Обходів")

    def held():
        q = moderator.get("/api/v1/moderation/queue", params={"consultation_id": c["id"]}).json()
        return {case["subject_id"] for case in q["items"]} >= set(ids) and q

    assert eventually(held, seconds=30), moderator.get("/api/v1/moderation/queue",
                                                       params={"consultation_id": c["id"]}).json()
    public = Caller(system.base_url).get(f"/api/v1/consultations/{c['id']}/comments").json()["items"]
    assert not {p["id"] for p in public} & set(ids)


def test_a_stuck_row_past_its_retry_budget_is_failed_not_pended_again(env, system):
    """A row left `sending` by a dead sender goes back to `pending` only while it has attempts left."""
    from services.notifications.rules import MAX_ATTEMPTS

    spent, fresh = uuid.uuid4(), uuid.uuid4()
    for person, attempts in ((spent, MAX_ATTEMPTS), (fresh, 1)):
        sql(env, "notifications", "INSERT INTO deliveries (person_id, consultation_id, channel, kind, status, attempts, "
            "claimed_at) VALUES (%s, %s, 'email', 'consultation_started', 'sending', %s, now() - interval '1 hour')",
            person, uuid.uuid4(), attempts)

    def state(person):
        return sql(env, "notifications", "SELECT status, last_error FROM deliveries WHERE person_id = %s", person)[0]

    # the fresh row goes back to pending, then the next sending tick claims it: wait for both steps
    assert eventually(lambda: state(spent)[0] == "failed" and state(fresh)[0] not in ("sending", "pending"),
                      seconds=30), (state(spent), state(fresh))
    assert state(spent)[1].startswith("retries_spent")
    assert state(fresh) == ("skipped", "no longer in the register")  # pended again, claimed, nobody to send to
