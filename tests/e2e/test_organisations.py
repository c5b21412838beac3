"""Institutions as commenters and who took part by type (R-2.2, R-3.12, R-3.16), a comment disowned by
the person it is signed with (R-3.5), and the owning unit's live view of who is missing (R-3.12),
through the real gateway, services, broker and database; the web pages in Chromium."""
from __future__ import annotations

import pytest

from tests.support.api import Caller, dev_login, years_ago
from tests.support.browser import browser, login, new_page  # noqa: F401 (fixtures)
from tests.support.consultations import case_for, close_now, open_consultation
from tests.support.samples import edrpou
from tests.support.waiting import eventually

pytestmark = pytest.mark.system


def confirmed_institution(base: str, admin, kind: str, name: str, head_name: str):
    """An institution filed with its ЄДРПОУ code by its head and confirmed by an administrator."""
    head = dev_login(base, full_name=head_name)
    r = head.post("/api/v1/organisations", json={"name": name, "kind": kind, "edrpou": edrpou()})
    assert r.status_code == 201, r.text
    org = r.json()
    assert admin.post(f"/api/v1/admin/organisations/{org['id']}/confirm").status_code == 200
    return head, org


def test_r_2_2_an_institution_files_its_edrpou_code_once_and_a_wrong_check_digit_is_refused(system):
    """Clause R-2.2."""
    base = system.base_url
    head = dev_login(base, full_name="Голова Кооперативу Тест")
    bad = head.post("/api/v1/organisations", json={"name": "ТОВ «Перевірка»", "kind": "business", "edrpou": "14360571"})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["body.edrpou"]
    code = edrpou()
    first = head.post("/api/v1/organisations", json={"name": "ТОВ «Перевірка»", "kind": "business", "edrpou": code})
    assert first.status_code == 201 and first.json()["edrpou"] == code
    assert first.json()["kind_label"] == "суб'єкт господарювання"
    again = dev_login(base).post("/api/v1/organisations", json={"name": "Інша", "kind": "ngo", "edrpou": code})
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "edrpou"


def test_r_2_2_r_3_16_a_head_comments_and_answers_for_the_institution_and_the_report_counts_by_type(env, system):
    """Clauses R-2.2, R-3.16."""
    base = system.base_url
    admin = dev_login(base, ["admin"], full_name="Адмін Установ")
    head, org = confirmed_institution(base, admin, "condominium", "ОСББ «Джерело»", "Коваль Ганна Петрівна")
    official = dev_login(base, ["official"], unit="Відділ установ тест", full_name="Установна Ольга")
    c = open_consultation(official, title="Двори без машин на тротуарах")
    cid, alt = c["id"], c["alternatives"][0]["id"]

    stranger = dev_login(base, full_name="Сторонній Петро")
    refused = stranger.post(f"/api/v1/consultations/{cid}/comments",
                            json={"body": "Від імені ОСББ пропоную шлагбаум", "on_behalf_of": org["id"]})
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "on_behalf_of"

    r = head.post(f"/api/v1/consultations/{cid}/comments",
                  json={"body": "Просимо облаштувати паркування біля будинку", "on_behalf_of": org["id"]})
    assert r.status_code == 201, r.text
    signature = "ОСББ «Джерело» (від імені: Коваль Ганна Петрівна)"
    assert r.json()["signed_as"] == signature and r.json()["organisation_kind"] == "condominium"
    assert head.post(f"/api/v1/consultations/{cid}/responses",
                     json={"alternative_id": alt, "on_behalf_of": org["id"]}).status_code == 200
    for i in range(2):
        who = dev_login(base, full_name=f"Мешканець Двору {i}")
        assert who.post(f"/api/v1/consultations/{cid}/comments",
                        json={"body": f"Пропоную висадити дерева, варіант {i}"}).status_code == 201
    public = lambda: Caller(base).get(f"/api/v1/consultations/{cid}/comments").json()["items"]  # noqa: E731
    assert eventually(lambda: signature in [x["signed_as"] for x in public()])

    close_now(env, cid)
    report = eventually(lambda: (lambda r: r.json() if r.status_code == 200 else None)(
        official.get(f"/api/v1/consultations/{cid}/report")), seconds=15)
    rep = report["representativeness"]
    assert rep["by_type"] == {"condominium": 1, "private": 2} and rep["by_channel"]["web"]["authors"] == 3
    proposals = official.get(f"/api/v1/consultations/{cid}/report/considerations").json()["items"]
    assert signature in [p["author_name"] for p in proposals]


def test_r_3_5_the_person_a_comment_is_signed_with_disowns_it_and_a_moderator_withdraws_it(system):
    """Clause R-3.5."""
    base = system.base_url
    official = dev_login(base, ["official"], unit="Відділ підписів тест", full_name="Підписна Ірина")
    cid = open_consultation(official, title="Нова зупинка біля ринку")["id"]
    named = dev_login(base, full_name="Названий Автор Тест")
    comment = named.post(f"/api/v1/consultations/{cid}/comments", json={"body": "Зупинку перенести до ринку"}).json()
    public = lambda: [x["id"] for x in Caller(base).get(f"/api/v1/consultations/{cid}/comments").json()["items"]]  # noqa: E731
    assert eventually(lambda: comment["id"] in public())
    other = dev_login(base, full_name="Інша Особа Тест")
    assert other.post(f"/api/v1/comments/{comment['id']}/not-mine", json={}).status_code == 404
    r = named.post(f"/api/v1/comments/{comment['id']}/not-mine", json={"explanation": "Я цього не писав"})
    assert r.status_code == 201 and r.json()["status"] == "open" and r.json()["text"] is None
    moderator = dev_login(base, ["moderator"], full_name="Модератор Підписів")
    queue = moderator.get("/api/v1/moderation/queue", params={"rule": "not_mine"}).json()["items"]
    case = next(c for c in queue if c["subject_id"] == comment["id"])
    assert case["matches"][0]["text"].startswith("Особа, від імені якої опубліковано коментар")
    assert moderator.get("/api/v1/moderation/queue").json()["items"][0]["priority"] >= case["priority"]
    assert named.post(f"/api/v1/comments/{comment['id']}/not-mine", json={}).status_code == 409
    decided = moderator.post(f"/api/v1/moderation/cases/{case['id']}/decision",
                             json={"decision": "reject", "grounds": ["anonymous"]})
    assert decided.status_code == 200
    assert eventually(lambda: comment["id"] not in public())


def test_r_3_12_the_owning_unit_sees_who_is_missing_while_it_runs_with_small_counts_withheld(env, system):
    """Clause R-3.12."""
    base = system.base_url
    official = dev_login(base, ["official"], unit="Відділ охоплення тест", full_name="Охоплення Марта")
    cid = open_consultation(official, title="Літній кінотеатр у парку")["id"]
    ages = [30] * 6 + [45] * 5 + [70]
    for i, age in enumerate(ages):
        who = dev_login(base, full_name=f"Глядач {i}", birth_date=years_ago(age))
        assert who.post(f"/api/v1/consultations/{cid}/comments",
                        json={"body": f"Кіно щосуботи, пропозиція {i}"}).status_code == 201
    url = f"/api/v1/consultations/{cid}/participation"
    got = eventually(lambda: (lambda r: r.json() if r.status_code == 200 and r.json()["persons"] == 12 else None)(
        official.get(url)), seconds=15)
    dims = {d["key"]: {c["key"]: c for c in d["cells"]} for d in got["dimensions"]}
    assert dims["age_band"]["18–35"]["count"] == 6
    assert dims["age_band"]["14–17"]["count"] == 0 and dims["age_band"]["14–17"]["gap"] == -0.05
    assert dims["age_band"]["60+"]["count"] is None  # one person: withheld
    assert dims["age_band"]["36–60"]["count"] is None  # and the next smallest, or the total would tell
    assert dims["visits"]["first_time"]["count"] == 12
    assert dims["respondent_type"]["private"]["count"] == 12 and dims["channel"]["web"]["count"] == 12
    assert dev_login(base, ["official"], unit="Чужий відділ охоплення", full_name="Чужа").get(url).status_code == 404
    assert dev_login(base, full_name="Мешканець Цікавий").get(url).status_code == 403
    assert Caller(base).get(url).status_code == 401
    close_now(env, cid)
    assert official.get(url).status_code == 409


def test_r_3_12_r_2_2_the_web_pages_participation_for_the_unit_and_a_head_writing_for_the_institution(
        system, new_page):
    """Clauses R-3.12, R-2.2."""
    base = system.base_url
    page = new_page()
    login(page, base, "Голова Вебустанови", roles=("resident", "institution_head"), next_path="/")
    official_page = new_page()
    login(official_page, base, "Вебохоплення Оксана", roles=("resident", "official"), unit="Відділ вебохоплення",
          next_path="/")
    owner = dev_login(base, ["official"], unit="Відділ вебохоплення", full_name="Вебохоплення Друга")
    cid = open_consultation(owner, title="Фонтан на площі Перемоги")["id"]

    page.goto(f"{base}/consultations/{cid}")
    page.locator("#f-on-behalf").select_option(label="ГО «Голова Вебустанови» (від імені установи)")
    page.get_by_label("Ваш коментар чи пропозиція").fill("Просимо питний фонтанчик")
    page.get_by_role("button", name="Надіслати коментар").click()
    signature = "ГО «Голова Вебустанови» (від імені: Голова Вебустанови)"
    assert eventually(lambda: signature in [x["signed_as"] for x in Caller(base).get(
        f"/api/v1/consultations/{cid}/comments").json()["items"]])
    page.goto(f"{base}/consultations/{cid}")
    assert signature in page.locator("#comments").inner_text()

    official_page.goto(f"{base}/consultations/{cid}")
    official_page.get_by_role("link", name="Хто бере участь, а кого бракує").click()
    assert "/participation" in official_page.url

    def counted() -> bool:  # the reports service learns of the comment from its event
        official_page.reload()
        return official_page.get_by_role("table", name="За віком (усього 1)").count() == 1
    assert eventually(counted, seconds=15)
    assert "менше 5" in official_page.locator("table.participation").first.inner_text()
    assert page.goto(f"{base}/official/consultations/{cid}/participation").status == 403  # the role gate

    page.goto(f"{base}/me")  # the person it is signed with disowns it from the cabinet
    page.locator("#my-comments details.report summary").first.click()
    page.locator("#my-comments details.report textarea").first.fill("Це писав не я")
    page.get_by_role("button", name="Повідомити модераторів").first.click()
    assert "першочергово" in page.locator(".flash").inner_text()
    moderator = dev_login(base, ["moderator"], full_name="Модератор Вебпідписів")
    queue = moderator.get("/api/v1/moderation/queue", params={"rule": "not_mine", "consultation_id": cid}).json()
    assert len(queue["items"]) == 1 and queue["items"][0]["matches"][0]["text"].endswith("Це писав не я")
