"""Gateway and web hardening against the running system (docs/hardening.md, "Gateway and web"):
slow clients, rate limits on every unsafe request, CSRF bound to the session, nested JSON,
open redirects, and the upload check's memory."""
from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.support.consultations import open_consultation
from tests.support.hardening import address, body_models, concrete, openapi
from tests.support.api import Caller, dev_login

pytestmark = pytest.mark.system

SLOW_HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-slow: "


@pytest.fixture(scope="module")
def active(system):
    official = dev_login(system.base_url, ["official"], unit="Відділ стійкості", full_name="Стійка Ольга")
    return open_consultation(official, title="Консультація під повільними клієнтами")


# ---- slow clients -------------------------------------------------------------------------------

class SlowLoris:
    """``count`` sockets from one client, each sending SLOW_HEAD and then one byte every 0.5 s."""

    def __init__(self, base: str, count: int):
        host, port = base.rsplit("/", 1)[1].split(":")
        self.addr, self.count = (host, int(port)), count
        self.socks: list[socket.socket] = []
        self.stop = threading.Event()
        self.closed_by_server = 0

    def __enter__(self):
        for _ in range(self.count):
            s = socket.create_connection(self.addr, timeout=5)
            s.sendall(SLOW_HEAD)
            self.socks.append(s)
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()
        return self

    def _drip(self):
        while not self.stop.wait(0.5):
            for s in list(self.socks):
                try:
                    s.send(b"a")
                except OSError:
                    self.socks.remove(s)
                    self.closed_by_server += 1

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def test_200_slow_sockets_do_not_starve_the_gateway(system, active):
    """R-3.5 availability: while one client holds 200 sockets dripping a header for 20 s,
    /healthz and a consultation page answer within 1 s. On this shared 2-core machine (load average
    up to 20 from parallel suites) a single page render now and then takes longer with no slow
    client at all, so: every probe answers 200 within 3 s, and 95 % of each path's within 1 s (a
    starved gateway answers none: stock gthread fails every probe after the first 16 sockets)."""
    base, page = system.base_url, f"/consultations/{active['id']}"
    assert requests.get(base + page, timeout=5).status_code == 200
    took: dict[str, list[float]] = {"/healthz": [], page: []}
    failures = []
    with SlowLoris(base, 200) as loris:
        started = time.monotonic()
        while time.monotonic() - started < 20:
            for path, times in took.items():
                t = time.monotonic()
                try:
                    r = requests.get(base + path, timeout=3)
                    ok = r.status_code == 200
                except requests.RequestException as exc:
                    ok, r = False, exc
                times.append(time.monotonic() - t)
                if not ok:
                    failures.append(f"{path} after {time.monotonic() - started:.1f}s: {r!r}")
            time.sleep(0.25)
    for path, times in took.items():
        quick = sum(1 for x in times if x < 1) / len(times)
        print(f"{path}: {len(times)} probes, slowest {max(times):.2f}s, {quick:.0%} within 1 s")
        if quick < 0.95:
            failures.append(f"{path}: only {quick:.0%} within 1 s (slowest {max(times):.2f}s)")
    print(f"slow sockets the gateway closed: {loris.closed_by_server}")
    assert failures == []


def test_a_head_that_never_ends_is_closed_with_408(system):
    with socket.create_connection(("127.0.0.1", int(system.base_url.rsplit(":", 1)[1])), timeout=30) as s:
        s.sendall(SLOW_HEAD)
        started, answer = time.monotonic(), b""
        while time.monotonic() - started < 25:
            try:
                s.send(b"a")
            except OSError:
                break
            s.settimeout(0.5)
            try:
                chunk = s.recv(1024)
            except socket.timeout:
                continue
            answer += chunk
            if not chunk or answer.endswith(b"\r\n\r\n"):
                break
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 15  # GATEWAY_HEADER_TIMEOUT (10 s) and a poll


# ---- rate limits count the web forms too --------------------------------------------------------

def _web_session(person: Caller) -> requests.Session:
    """A browser-like session: the person's token as the session cookie (what login sets)."""
    s = requests.Session()
    s.cookies.set("econsult_session", person.token)
    return s


def _csrf_of(session: requests.Session, base: str, path: str) -> str:
    html = session.get(base + path, timeout=10).text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def is_429_page(r: requests.Response) -> bool:
    return (r.status_code == 429 and r.headers["Content-Type"].startswith("text/html")
            and "Забагато запитів" in r.text and int(r.headers["Retry-After"]) >= 1)


def test_web_forms_count_against_the_write_limit_and_429_is_a_ukrainian_page(system, strict_gateway, active):
    person = dev_login(system.base_url, full_name="Форма Частенька")
    browser = _web_session(person)
    ip = address()
    token = _csrf_of(browser, strict_gateway, f"/consultations/{active['id']}")
    statuses = []
    for i in range(4):  # RATE_WRITES_PER_PERSON=3 on the strict gateway
        r = browser.post(f"{strict_gateway}/consultations/{active['id']}/comments", allow_redirects=False,
                         data={"body": f"Пропозиція номер {i} щодо освітлення вулиці", "csrf_token": token},
                         headers={"X-Forwarded-For": ip}, timeout=10)
        statuses.append(r.status_code)
    assert statuses[:3] == [303] * 3, statuses
    assert is_429_page(r), (r.status_code, r.headers, r.text[:300])
    api = Caller(strict_gateway, person.token).post("/api/v1/me/notifications/read", json={},
                                                    headers={"X-Forwarded-For": address()})
    assert api.status_code == 429 and api.headers["Content-Type"].startswith("application/problem+json")


def test_owasp_api4_a_comment_is_counted_in_the_transaction_that_writes_it_and_the_limit_holds(
        env, system, strict_gateway, active):
    """A known person's comment is counted by consultations in the transaction that writes it (no
    rate round trip of its own), in the same counters as every other write: three comments through
    one gateway, then the strict one (3 a window) answers the fourth comment, and any other write of
    the person, with the same 429 problem+json; the refused comment is not written."""
    from sqlalchemy import text

    from chassis.db import make_engine

    person = dev_login(system.base_url, full_name="Коментарка Лімітна")
    path = f"/api/v1/consultations/{active['id']}/comments"
    for i in range(3):  # the lenient gateway, each comment from its own address
        r = person.post(path, json={"body": f"Пропозиція {i} щодо лавок у сквері"},
                        headers={"X-Forwarded-For": address()})
        assert r.status_code == 201, r.text
    engine = make_engine("consultations", env.settings())
    with engine.connect() as conn:
        hits = conn.execute(text("SELECT sum(hits) FROM rate_counters WHERE key = :k"),
                            {"k": f"write:person:{person.person_id}"}).scalar()
    engine.dispose()
    assert hits == 3, "counted in the consultations database, with the comments"
    strict = Caller(strict_gateway, person.token)
    r = strict.post(path, json={"body": "Четверта пропозиція щодо лавок"}, headers={"X-Forwarded-For": address()})
    assert (r.status_code == 429 and r.headers["Content-Type"].startswith("application/problem+json")
            and int(r.headers["Retry-After"]) >= 1 and r.json()["code"] == "rate_limited"), r.text
    assert "спробуйте через" in r.json()["detail"]
    mine = [c["body"] for c in person.get("/api/v1/me/comments").json()["items"]]
    assert "Четверта пропозиція щодо лавок" not in mine and len(mine) == 3
    other = strict.post("/api/v1/me/notifications/read", json={}, headers={"X-Forwarded-For": address()})
    assert other.status_code == 429 and other.json()["code"] == "rate_limited"


def test_dev_login_form_counts_as_a_login(strict_gateway):
    ip, answers = address(), []
    for _ in range(4):  # RATE_LOGINS_PER_ADDRESS=3; each attempt a fresh browser
        s = requests.Session()
        token = _csrf_of(s, strict_gateway, "/login")
        answers.append(s.post(strict_gateway + "/login/dev", allow_redirects=False, timeout=10,
                              headers={"X-Forwarded-For": ip},
                              data={"subject": f"web-flood-{uuid.uuid4().hex[:8]}", "full_name": "Потік Форм",
                                    "birth_date": "1990-01-01", "community_member": "on", "csrf_token": token}))
    assert [r.status_code for r in answers[:3]] == [302] * 3, [r.status_code for r in answers]
    assert is_429_page(answers[3])


# ---- CSRF bound to the session; non-ASCII tokens ------------------------------------------------

def test_an_attacker_set_csrf_cookie_with_a_matching_header_fails(system):
    person = dev_login(system.base_url, full_name="Жертва Кукі")
    cookies = {"econsult_session": person.token, "econsult_csrf": "attacker-chosen-token"}
    r = requests.put(system.base_url + "/api/v1/me", json={"email": "x@example.org"}, cookies=cookies,
                     headers={"X-CSRF-Token": "attacker-chosen-token"}, timeout=10)
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    # the token the gateway gave this session at login still works
    login = requests.post(system.base_url + "/api/v1/auth/dev-login", timeout=10,
                          json={"subject": f"csrf-ok-{uuid.uuid4().hex[:8]}", "full_name": "Власна Кукі",
                                "consent": True})
    good = requests.put(system.base_url + "/api/v1/me", json={}, cookies=login.cookies,
                        headers={"X-CSRF-Token": login.cookies["econsult_csrf"]}, timeout=10)
    assert good.status_code == 200, good.text
    other = requests.put(system.base_url + "/api/v1/me", json={}, timeout=10,
                         cookies={"econsult_session": login.cookies["econsult_session"],
                                  "econsult_csrf": r.request.headers["X-CSRF-Token"]},
                         headers={"X-CSRF-Token": "attacker-chosen-token"})
    assert other.status_code == 403


def test_non_ascii_csrf_tokens_are_refused_not_500(system, active):
    person = dev_login(system.base_url, full_name="Нелатинський Токен")
    r = requests.put(system.base_url + "/api/v1/me", json={}, cookies={"econsult_session": person.token,
                                                                      "econsult_csrf": "abc"},
                     headers={"X-CSRF-Token": b"\xe9"}, timeout=10)
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("application/problem+json")
    r = requests.post(f"{system.base_url}/consultations/{active['id']}/comments", timeout=10,
                      cookies={"econsult_session": person.token}, allow_redirects=False,
                      data={"body": "Коментар з чужим токеном", "csrf_token": "ї"})
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("text/html")
    assert "CSRF" in r.text and "<html" in r.text


# ---- open redirect on the consent step ----------------------------------------------------------

@pytest.mark.parametrize("evil", ["/\t/evil.example", "/\\evil.example", "//evil.example", "https:evil.example"])
def test_the_consent_step_redirects_only_to_a_local_path(system, evil):
    person = dev_login(system.base_url, full_name="Без Згоди", consent=False)
    s = _web_session(person)
    token = _csrf_of(s, system.base_url, "/me/consent")
    r = s.post(system.base_url + "/me/consent", data={"agree": "on", "next": evil, "csrf_token": token},
               allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] in ("/", system.base_url + "/")


# ---- nested JSON on every JSON route ------------------------------------------------------------

def test_deeply_nested_json_is_a_4xx_on_every_json_route(system):
    everyone = dev_login(system.base_url, ["resident", "official", "moderator", "admin", "institution_head"],
                         unit="Відділ вкладеності", full_name="Глибоко Вкладений")
    routes = body_models(openapi(system.base_url))
    assert len(routes) >= 18
    failures = []
    for caller in (everyone, Caller(system.base_url)):
        for method, path, _name, _fields in routes:
            for body in (b"[" * 100_000, b'{"a":' * 5_000):
                r = caller.request(method, concrete(path), data=body,
                                   headers={"Content-Type": "application/json"})
                if not (400 <= r.status_code < 500 and r.headers["Content-Type"].startswith("application/problem+json")):
                    failures.append(f"{method} {path}: {r.status_code}")
    assert failures == []


# ---- the upload check's memory ------------------------------------------------------------------

def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _workers(master: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def test_a_zip_bomb_upload_is_refused_and_the_workers_stay_small(system):
    from tests.support.samples import bomb

    official = dev_login(system.base_url, ["official"], unit="Відділ архівів", full_name="Бомба Зіпівна")
    from tests.support.samples import draft_body

    cid = official.post("/api/v1/consultations", json=draft_body()).json()["id"]
    workers = _workers(system.procs["gateway"].pid)
    assert workers
    before = {pid: _peak_rss_kb(pid) for pid in workers}
    data = bomb(200)
    for _ in range(2):  # two uploads: both workers most likely see one
        r = official.post(f"/api/v1/consultations/{cid}/attachments",
                          files={"file": ("bomb.odt", data, "application/vnd.oasis.opendocument.text")})
        assert r.status_code in (415, 422), r.text
    grew = {pid: _peak_rss_kb(pid) - before[pid] for pid in workers}
    assert max(grew.values()) < 60_000, f"peak RSS grew by {grew} KiB"


# ---- the unit filter takes the id /api/v1/units returns -----------------------------------------

def test_unit_filter_takes_the_unit_id_and_consultations_carry_it(system):
    unit = f"Відділ фільтрів {uuid.uuid4().hex[:6]}"
    official = dev_login(system.base_url, ["official"], unit=unit, full_name="Фільтр Одиничний")
    cid = open_consultation(official, title="Консультація одного підрозділу")["id"]
    anon = Caller(system.base_url)
    unit_id = next(u["id"] for u in anon.get("/api/v1/units").json()["items"] if u["name"] == unit)
    by_id = anon.get("/api/v1/consultations", params={"unit": unit_id})
    assert by_id.status_code == 200
    assert [(c["id"], c["unit_id"], c["unit_name"]) for c in by_id.json()["items"]] == [(cid, unit_id, unit)]
    assert anon.get(f"/api/v1/consultations/{cid}").json()["unit_id"] == unit_id
    assert [c["id"] for c in anon.get("/api/v1/consultations", params={"unit": unit}).json()["items"]] == [cid]
    unknown = anon.get("/api/v1/consultations", params={"unit": str(uuid.uuid4())})
    assert unknown.status_code == 200 and unknown.json()["items"] == [] and unknown.json()["total"] == 0


# ---- the export holds what every service keeps about the person -----------------------------

def test_export_holds_everything_every_service_keeps_and_nothing_of_others(env, system):
    """R-2.4: one JSON document with the registry's data and consents, comments with status and
    grounds, survey answers, support votes, initiatives, plan proposals, cabinet messages, e-mail
    deliveries, reports of comments filed, report participation; another person's data never."""
    from datetime import timedelta

    from chassis.workdays import local_today
    from tests.support.samples import FULL_NOTICE, draft_body
    from tests.support.consultations import close_now
    from tests.support.waiting import eventually

    base, tag = system.base_url, uuid.uuid4().hex[:8]
    person = dev_login(base, full_name="Експортна Оксана Іванівна")
    other = dev_login(base, full_name="Сусідній Петро Чужинський")
    for who, mail in ((person, f"me-{tag}@export.example"), (other, f"other-{tag}@export.example")):
        assert who.put("/api/v1/me", json={"email": mail, "interests": [11]}).status_code == 200
    official = dev_login(base, ["official"], unit="Відділ експорту", full_name="Експорт Посадова")
    moderator = dev_login(base, ["moderator"], full_name="Модератор Експорту")
    c = open_consultation(official, title=f"Експорт {tag}: сквер", category=11)
    cid, alt = c["id"], c["alternatives"][0]["id"]
    survey = draft_body(form="survey", title=f"Опитування експорту {tag}", category=11, alternatives=[],
                        notice=FULL_NOTICE, starts_on=local_today().isoformat(),
                        ends_on=(local_today() + timedelta(days=20)).isoformat(),
                        questions=[{"text": "Що потрібно у сквері?", "kind": "single", "options": ["Лавки", "Фонтан"]}])
    sid = official.post("/api/v1/consultations", json=survey).json()["id"]
    s = official.post(f"/api/v1/consultations/{sid}/publish").json()
    question = s["questions"][0]

    mine = person.post(f"/api/v1/consultations/{cid}/comments",
                       json={"body": f"Пропоную лавки в сквері {tag}", "alternative_id": alt})
    assert mine.status_code == 201, mine.text
    rude = person.post(f"/api/v1/consultations/{cid}/comments", json={"body": "Цей сквер — повна хуйня"}).json()["id"]
    theirs = other.post(f"/api/v1/consultations/{cid}/comments", json={"body": f"Сусідська думка {tag}"}).json()["id"]
    assert person.post(f"/api/v1/consultations/{cid}/responses", json={"alternative_id": alt}).status_code == 200
    assert other.post(f"/api/v1/consultations/{cid}/responses", json={"alternative_id": alt}).status_code == 200
    assert person.post(f"/api/v1/consultations/{sid}/responses", json={"answers": [
        {"question_id": question["id"], "option_ids": [question["options"][0]["id"]]}]}).status_code == 200
    initiative = person.post("/api/v1/consultations", json=draft_body(title=f"Ініціатива експорту {tag}"))
    assert initiative.status_code == 201, initiative.text
    proposal = person.post(f"/api/v1/plan/{local_today().year}/entries",
                           json={"title": f"Пропозиція до плану {tag}", "category": 11})
    assert proposal.status_code == 201, proposal.text

    def queued(subject):
        return next((x for x in moderator.get("/api/v1/moderation/queue").json()["items"]
                     if x["subject_id"] == subject), None)
    case = eventually(lambda: queued(rude), seconds=20)
    assert moderator.post(f"/api/v1/moderation/cases/{case['id']}/decision",
                          json={"decision": "reject", "grounds": ["obscene"]}).status_code == 200
    eventually(lambda: any(i["id"] == theirs for i in Caller(base).get(
        f"/api/v1/consultations/{cid}/comments?per_page=100").json()["items"]), seconds=20)
    assert person.post(f"/api/v1/comments/{theirs}/reports", json={"reason": f"Скарга експорту {tag}"}).status_code == 201
    eventually(lambda: person.get("/api/v1/me/notifications").json()["items"], seconds=20)
    close_now(env, cid)

    def exported():
        data = person.get("/api/v1/me/export").json()
        ready = (data["notifications"]["email_deliveries"] and data["notifications"]["cabinet_messages"]
                 and data["reports"]["report_participation"])
        return data if ready else None
    data = eventually(exported, seconds=30)
    assert data, person.get("/api/v1/me/export").json()

    assert data["person"]["email"] == f"me-{tag}@export.example" and data["person"]["consented_at"]
    cons = data["consultations"]
    comments = {c["id"]: c for c in cons["comments"]}
    assert comments[mine.json()["id"]]["status"] == "published"
    assert comments[rude]["status"] == "rejected" and comments[rude]["rejection_grounds"]
    assert [v["alternative_id"] for v in cons["support_votes"]] == [alt]
    assert [a["option_ids"] for a in cons["survey_answers"]] == [[question["options"][0]["id"]]]
    assert [i["title"] for i in cons["initiatives"]] == [f"Ініціатива експорту {tag}"]
    assert [p["title"] for p in cons["plan_proposals"]] == [f"Пропозиція до плану {tag}"]
    mod = data["moderation"]
    assert [r["reason"] for r in mod["comment_reports_filed"]] == [f"Скарга експорту {tag}"]
    assert any(c["subject_id"] == rude and c["decision"] == "rejected" and c["grounds"]
               for c in mod["cases_about_my_texts"])
    assert {d["consultation_id"] for d in data["notifications"]["email_deliveries"]} >= {cid}
    assert [p["consultation_id"] for p in data["reports"]["report_participation"]] == [cid]

    text = json_text(data)
    for foreign in (other.person_id, "Сусідній Петро", f"other-{tag}", f"Сусідська думка {tag}"):
        assert foreign not in text, f"another person's data in the export: {foreign}"


def json_text(data) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)
