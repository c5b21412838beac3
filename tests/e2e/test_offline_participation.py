"""Offline and assisted participation: a submission received on paper, by e-mail, at a hearing or at an
administrative service centre is registered by an official of the owning unit into the same comments
as the web's, screened and moderated like them, marked with its channel on the page, in the API and
in the report, counted by channel and considered like any proposal; the printable pack (R-3.5, R-3.7,
R-3.13, R-3.14, R-3.16)."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader

from chassis.workdays import local_today
from tests.support.api import Caller, dev_login
from tests.support.browser import SHOTS, browser, check_axe, login, new_page, shoot  # noqa: F401 (fixtures)
from tests.support.consultations import case_for, close_now
from tests.support.samples import FULL_NOTICE, PDF, V1
from tests.support.waiting import eventually

pytestmark = pytest.mark.system

UNIT = "Відділ звернень громадян"


@pytest.fixture(scope="module")
def act(system):
    """An active draft act of UNIT, its official, and a resident."""
    base = system.base_url
    official = dev_login(base, ["official"], unit=UNIT, full_name="Приймальня Оксана Петрівна")
    body = {"form": "draft_act", "title": "Проєкт правил утримання зелених насаджень", "category": 15,
            "question": "Обговорення проєкту правил утримання зелених насаджень", "notice": FULL_NOTICE,
            "draft_text": V1, "starts_on": local_today().isoformat(),
            "ends_on": (local_today() + timedelta(days=15)).isoformat()}
    draft = official.post("/api/v1/consultations", json=body)
    assert draft.status_code == 201, draft.text
    c = official.post(f"/api/v1/consultations/{draft.json()['id']}/publish").json()
    assert c["status"] == "active", c
    return {"c": c, "official": official, "base": base}


def letter(**over) -> dict:
    return {"channel": "paper", "received_on": local_today().isoformat(), "author_name": "Гнатюк  Степан Іванович",
            "body": "Прошу зберегти старі липи на вулиці Шевченка.", **over}


def test_r_3_5_a_letter_with_its_scan_is_registered_public_with_its_channel_and_its_scan_insiders_only(system, act):
    """R-3.5, R-3.7: the official registers a paper letter on a paragraph with its scan; it is screened,
    published with the name as written and marked «паперовий лист» in the API and on the page; the scan
    is the owning unit's and moderators' only; who entered it and when is in moderation's audit."""
    base, c, official = act["base"], act["c"], act["official"]
    cid, paragraph = c["id"], c["paragraphs"][1]
    scan = official.post(f"/api/v1/consultations/{cid}/attachments", data={"kind": "scan", "title": "Лист Гнатюка"},
                         files={"file": ("lyst.pdf", PDF, "application/pdf")})
    assert scan.status_code == 201, scan.text
    r = official.post(f"/api/v1/consultations/{cid}/offline-comments",
                      json=letter(paragraph_id=paragraph["id"], scan_id=scan.json()["id"]))
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["channel"] == "paper" and added["author_name"] == "Гнатюк Степан Іванович"
    assert added["status"] == "published" and added["paragraph_id"] == paragraph["id"]
    anon = Caller(base)
    public = anon.get(f"/api/v1/consultations/{cid}/comments").json()["items"]
    mine = next(i for i in public if i["id"] == added["id"])
    assert mine["channel"] == "paper" and mine["received_on"] == local_today().isoformat() and mine["scan_id"] is None
    assert scan.json()["id"] not in {a["id"] for a in anon.get(f"/api/v1/consultations/{cid}").json()["attachments"]}
    scan_url = scan.json()["url"]
    assert anon.get(scan_url).status_code == 404
    assert dev_login(base, full_name="Цікавий Мешканець").get(scan_url).status_code == 404
    assert official.get(scan_url).content == PDF
    moderator = dev_login(base, ["moderator"], full_name="Модератор Листів")
    assert moderator.get(scan_url).status_code == 200
    html = anon.get(f"/consultations/{cid}").text
    assert "Гнатюк Степан Іванович" in html and "паперовий лист" in html
    audit = moderator.get(f"/api/v1/moderation/audit?consultation_id={cid}").json()["items"]
    entry = next(i for i in audit if i["subject_id"] == added["id"])
    assert entry["channel"] == "paper" and entry["entered_by"] == official.person_id and entry["entered_at"]


def test_r_3_7_a_held_submission_waits_in_the_queue_with_its_channel(system, act):
    """R-3.7, R-3.10: a submission the screening holds waits for a moderator like any comment; the queue
    shows its channel, the public does not see it, the registering official does."""
    base, cid, official = act["base"], act["c"]["id"], act["official"]
    r = official.post(f"/api/v1/consultations/{cid}/offline-comments",
                      json=letter(channel="service_centre", author_name="Лисенко Ганна",
                                  body="Подробиці за телефоном 067 123 45 67"))
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text
    moderator = dev_login(base, ["moderator"], full_name="Модератор Черги Листів")
    assert eventually(lambda: case_for(moderator, r.json()["id"]) is not None, seconds=15)
    assert case_for(moderator, r.json()["id"])["channel"] == "service_centre"
    public = Caller(base).get(f"/api/v1/consultations/{cid}/comments").json()["items"]
    assert r.json()["id"] not in {i["id"] for i in public}
    assert r.json()["id"] in {i["id"] for i in official.get(f"/api/v1/consultations/{cid}/comments").json()["items"]}


def test_r_3_5_bad_input_is_a_problem_naming_the_field_and_others_may_not_register(system, act):
    """Bad input: 422 problem+json naming the field, nothing written; another unit's official 403, a
    resident 403, the anonymous 401; a draft of another unit 404 (hidden)."""
    base, cid, official = act["base"], act["c"]["id"], act["official"]
    url = f"/api/v1/consultations/{cid}/offline-comments"
    before = official.get(f"/api/v1/consultations/{cid}/comments?per_page=100").json()["total"]
    cases = [(letter(received_on=(local_today() + timedelta(days=1)).isoformat()), "received_on"),
             (letter(received_on=(local_today() - timedelta(days=1)).isoformat()), "received_on"),
             (letter(channel="web"), "channel"), (letter(channel="pigeon"), "channel"),
             (letter(author_name=""), "author_name"), (letter(unexpected=1), "unexpected"),
             (letter(scan_id="00000000-0000-0000-0000-000000000001"), "scan_id"),
             (letter(alternative_id="00000000-0000-0000-0000-000000000001"), "alternative_id")]
    for body, field in cases:
        r = official.post(url, json=body)
        assert r.status_code == 422, (field, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert field in {e["field"].split(".")[-1] for e in r.json()["errors"]}, (field, r.json())
    assert official.get(f"/api/v1/consultations/{cid}/comments?per_page=100").json()["total"] == before
    other = dev_login(base, ["official"], unit="Чужий відділ звернень", full_name="Чужа Посадовиця")
    assert other.post(url, json=letter()).status_code == 403
    assert dev_login(base, full_name="Мешканець Без Ролі").post(url, json=letter()).status_code == 403
    assert Caller(base).post(url, json=letter()).status_code == 401
    hidden = other.post("/api/v1/consultations", json={"form": "proposal", "title": "Чужа чернетка звернень",
                                                       "question": "Питання чужої чернетки?", "category": 3})
    assert official.post(f"/api/v1/consultations/{hidden.json()['id']}/offline-comments",
                         json=letter()).status_code == 404


def test_r_3_13_the_printable_pack_holds_the_notice_the_numbered_draft_and_a_form(system, act):
    """R-3.13: the pack (a PDF with Ukrainian text) for anyone who may see the consultation; linked
    from the page; a hidden draft's pack is 404."""
    base, c = act["base"], act["c"]
    anon = Caller(base)
    r = anon.get(f"/api/v1/consultations/{c['id']}/pack.pdf")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf", r.text[:300]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert c["title"] in text and "Інформаційне повідомлення" in text and "Форма для подання пропозиції" in text
    flat = " ".join(text.split())
    assert all(f"{p['number']}. {p['text']}" in flat for p in c["paragraphs"])  # the draft by paragraph number
    assert "пункту проєкту №" in text
    assert f"/api/v1/consultations/{c['id']}/pack.pdf" in anon.get(f"/consultations/{c['id']}").text
    official = act["official"]
    draft = official.post("/api/v1/consultations", json={"form": "proposal", "title": "Чернетка для пакета",
                                                         "question": "Питання чернетки пакета?", "category": 3})
    assert anon.get(f"/api/v1/consultations/{draft.json()['id']}/pack.pdf").status_code == 404
    assert official.get(f"/api/v1/consultations/{draft.json()['id']}/pack.pdf").status_code == 200


def test_r_3_16_offline_proposals_are_counted_by_channel_and_considered_in_the_report(env, system):
    """R-3.14, R-3.16: after closing, a letter received on the last day is still registered; with the
    snapshot taken again it is a proposal like any other: marked with its channel, counted by channel
    in the representativeness, considered, and its channel is in the protocol."""
    base = system.base_url
    official = dev_login(base, ["official"], unit=UNIT, full_name="Звітна Приймальня Ірина")
    body = {"form": "proposal", "title": "Графік вивезення сміття", "category": 15, "notice": FULL_NOTICE,
            "question": "Як часто вивозити сміття з приватного сектору?", "alternatives": [{"text": "Щотижня"}],
            "starts_on": local_today().isoformat(), "ends_on": (local_today() + timedelta(days=15)).isoformat()}
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    assert official.post(f"/api/v1/consultations/{cid}/publish").json()["status"] == "active"
    web = dev_login(base, full_name="Веб Учасниця Звіту").post(f"/api/v1/consultations/{cid}/comments",
                                                                json={"body": "Двічі на тиждень улітку."})
    assert web.status_code == 201, web.text
    email = official.post(f"/api/v1/consultations/{cid}/offline-comments",
                          json=letter(channel="email", author_name="Бондар Петро", body="Щотижня, але по середах."))
    assert email.status_code == 201, email.text
    close_now(env, cid)  # the term now ran until yesterday
    assert eventually(lambda: official.get(f"/api/v1/consultations/{cid}/report").status_code == 200, seconds=20)
    late = official.post(f"/api/v1/consultations/{cid}/offline-comments",
                         json=letter(received_on=(local_today() - timedelta(days=1)).isoformat()))
    assert late.status_code == 201, late.text
    too_late = official.post(f"/api/v1/consultations/{cid}/offline-comments",
                             json=letter(author_name="Запізнілий Автор", received_on=local_today().isoformat()))
    assert too_late.status_code == 422 and too_late.json()["errors"][0]["field"] == "received_on"

    def retaken():
        r = official.post(f"/api/v1/consultations/{cid}/report/snapshot")
        return r.status_code == 200 and r.json()["proposals"] == 3
    assert eventually(retaken, seconds=20), "the read model did not receive the late letter"
    report = official.get(f"/api/v1/consultations/{cid}/report").json()
    channels = report["representativeness"]["by_channel"]
    assert (channels["web"]["proposals"], channels["email"]["proposals"], channels["paper"]["proposals"]) == (1, 1, 1)
    assert channels["paper"]["label"] == "паперовий лист" and channels["hearing"]["proposals"] == 0
    proposals = official.get(f"/api/v1/consultations/{cid}/report/considerations").json()["items"]
    assert sorted(p["channel"] for p in proposals) == ["email", "paper", "web"]
    r = official.put(f"/api/v1/consultations/{cid}/report/considerations/bulk",
                     json={"comment_ids": [p["comment_id"] for p in proposals], "outcome": "accepted"})
    assert r.status_code == 200 and r.json()["updated"] == 3, r.text
    assert eventually(lambda: "електронна пошта" in official.get(f"/api/v1/consultations/{cid}/protocol.csv").text,
                      seconds=20)


def test_r_3_5_the_official_registers_a_letter_through_the_web_form(system, act, new_page):
    """The official's web form (keyboard-usable, axe-checked): a refusal keeps what was typed and names
    the field; the registered letter appears on the consultation's page with its channel."""
    base, cid = act["base"], act["c"]["id"]
    page = new_page()
    login(page, base, "Веб Приймальня Тетяна", roles=("resident", "official"), unit=UNIT,
          next_path=f"/consultations/{cid}")
    page.get_by_role("link", name="Зареєструвати пропозицію, отриману поза сайтом").click()
    assert page.url.endswith(f"/official/consultations/{cid}/offline")
    check_axe(page, "offline-form")
    page.get_by_label("Канал надходження").select_option("hearing")
    page.get_by_label("Дата надходження").fill((local_today() + timedelta(days=3)).isoformat())
    page.get_by_label("Ім'я автора, як написано").fill("Мельник Василь")
    page.get_by_label("Текст пропозиції").fill("Висаджувати дерева лише місцевих порід.")
    page.get_by_role("button", name="Зареєструвати").click()
    assert "не пізніше сьогодні" in page.locator(".field-error").first.inner_text()
    assert page.get_by_label("Ім'я автора, як написано").input_value() == "Мельник Василь"
    page.get_by_label("Дата надходження").fill(local_today().isoformat())
    page.get_by_role("button", name="Зареєструвати").click()
    assert "Пропозицію зареєстровано" in page.content()
    shoot(page, "offline-form")
    page.goto(f"{base}/consultations/{cid}")
    item = page.locator("ul.comments li", has_text="Висаджувати дерева лише місцевих порід.")
    assert "громадські слухання" in item.inner_text() and "Мельник Василь" in item.inner_text()
