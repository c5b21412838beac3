"""Groups of near-identical proposals through the gateway: a campaign's comments grouped while the
consultation runs, the desk's groups (representative, count, authors, differences), one
consideration for the whole group stored per proposal, a member split out and considered alone,
bad input refused by field, and the published report showing the group once in HTML while the
CSV keeps a row per comment with its group_id (R-3.16, R-3.14); and the desk's group forms driven
by the keyboard alone in a browser, checked by axe-core after each step."""
from __future__ import annotations

import csv
import io
import re

import pytest

from tests.support.api import Caller, dev_login
from tests.support.browser import (browser, check_axe, choose_with_arrows, login, new_page, press,  # noqa: F401
                                   skip_to_main, tab_to)
from tests.support.consultations import close_now, open_consultation
from tests.support.waiting import eventually

pytestmark = pytest.mark.system

CAMPAIGN = ("Вимагаємо зберегти сквер біля школи номер п'ять і не віддавати землю під забудову: там гуляють діти, "
            "відпочивають літні люди, ростуть старі липи і каштани. Просимо облаштувати доріжки, лавки, освітлення "
            "і дитячий майданчик, а проєкт благоустрою обговорити з мешканцями району на громадських слуханнях. "
            "Сквер є єдиним зеленим місцем у мікрорайоні, де немає іншого парку, а навколо вже стоять нові "
            "багатоповерхівки. Просимо депутатів підтримати рішення про надання скверу статусу об'єкта "
            "благоустрою загального користування та передбачити кошти в бюджеті наступного року.")
VARIANTS = [CAMPAIGN, CAMPAIGN.upper(), "Шановні депутати! " + CAMPAIGN, CAMPAIGN.replace("старі", "високі"),
            CAMPAIGN.replace("о", "o", 3), CAMPAIGN + " З повагою, мешканка району."]
UNIQUE = "Прошу відремонтувати дах поліклініки на вулиці Шевченка до початку зими."


@pytest.fixture(scope="module")
def campaign(env, system):
    base = system.base_url
    official = dev_login(base, ["official"], unit="Управління груп тест", full_name="Групова Ірина Петрівна")
    cid = open_consultation(official, title="Сквер біля школи № 5", question="Що робити зі сквером?")["id"]
    ids = []
    for n, body in enumerate(VARIANTS + [UNIQUE]):
        who = dev_login(base, full_name=f"Учасник Кампанії {n}")
        r = who.post(f"/api/v1/consultations/{cid}/comments", json={"body": body})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    def published():
        items = Caller(base).get(f"/api/v1/consultations/{cid}/comments?per_page=100").json()["items"]
        return {i["id"] for i in items} == set(ids)
    assert eventually(published, seconds=20)
    close_now(env, cid)
    report = f"/api/v1/consultations/{cid}/report"
    assert eventually(lambda: official.get(report).status_code == 200, seconds=20)

    def grouped():
        page = official.get(report + "/groups").json()
        return page["items"] if page["total"] == 1 and page["items"][0]["size"] == len(VARIANTS) else None
    assert eventually(grouped, seconds=20), official.get(report + "/groups").text
    return {"cid": cid, "official": official, "ids": ids, "report": report, "base": base,
            "stranger": dev_login(base, ["official"], unit="Чужий відділ груп", full_name="Чужий Посадовець")}


def test_r_3_16_the_desk_answers_a_campaign_once_and_every_proposal_stays_considered(campaign):
    """R-3.16, R-3.14: the group with its representative, count, authors and word differences; one
    consideration for the group lands on each of its proposals; a member split out is considered
    alone; the report shows «N однакових/майже однакових пропозицій» once in HTML, and the CSV keeps
    every comment with its group_id."""
    official, report, ids = campaign["official"], campaign["report"], campaign["ids"]
    group = official.get(report + "/groups").json()["items"][0]
    gid = group["group_id"]
    assert group["heading"] == f"{len(VARIANTS)} однакових/майже однакових пропозицій"
    assert group["representative"]["body"] == CAMPAIGN  # the text most members share after normalising
    assert group["authors"] == [f"Учасник Кампанії {n}" for n in range(len(VARIANTS))]
    detail = official.get(report + f"/groups/{gid}?per_page=50").json()
    by_id = {m["comment_id"]: m for m in detail["members"]}
    assert set(by_id) == set(ids[:len(VARIANTS)])
    assert by_id[ids[1]]["same_text"] and by_id[ids[4]]["same_text"]  # upper case, Latin look-alikes
    assert {"op": "added", "text": "високі"} in by_id[ids[3]]["diff"]
    assert {"op": "removed", "text": "старі"} in by_id[ids[3]]["diff"]

    missing = official.put(report + f"/groups/{gid}/consideration", json={"outcome": "not_accepted"})
    assert missing.status_code == 422 and missing.headers["Content-Type"].startswith("application/problem+json")
    assert missing.json()["errors"][0]["field"] == "body.justification"
    outsider = official.post(report + f"/groups/{gid}/split", json={"comment_id": ids[-1]})
    assert outsider.status_code == 422 and outsider.json()["errors"][0]["field"] == "comment_id"
    assert official.post(report + f"/groups/{gid}/split", json={"comment_id": "x"}).status_code == 422
    assert official.get(report + "/groups/00000000-0000-4000-8000-000000000000").status_code == 404
    assert campaign["stranger"].get(report + f"/groups/{gid}").status_code == 404
    assert campaign["stranger"].put(report + f"/groups/{gid}/consideration",
                                    json={"outcome": "accepted"}).status_code == 404

    done = official.put(report + f"/groups/{gid}/consideration",
                        json={"outcome": "partly_accepted", "justification": "Доріжки й лавки вже в плані"})
    assert done.status_code == 200 and done.json() == {"updated": len(VARIANTS)}
    items = {p["comment_id"]: p for p in official.get(report + "/considerations?per_page=50").json()["items"]}
    assert all(items[i]["outcome"] == "partly_accepted" and items[i]["group_id"] == gid for i in ids[:len(VARIANTS)])

    split = official.post(report + f"/groups/{gid}/split", json={"comment_id": ids[5]})
    assert split.status_code == 200 and split.json() == {"updated": 1}
    assert official.get(report + f"/groups/{gid}").json()["total"] == len(VARIANTS) - 1
    assert official.put(report + "/considerations", json={"comment_id": ids[5], "outcome": "accepted"}).status_code == 200
    assert official.put(report + "/considerations", json={"comment_id": ids[-1], "outcome": "not_accepted",
                                                          "justification": "Не стосується скверу"}).status_code == 200

    page = official.get(f"/official/consultations/{campaign['cid']}/report/groups/{gid}")
    assert page.status_code == 200 and f"{len(VARIANTS) - 1} однакових/майже однакових пропозицій" in page.text
    assert "<ins>високі</ins>" in page.text and "Виокремити" in page.text
    desk = official.get(f"/official/consultations/{campaign['cid']}/report")
    assert desk.status_code == 200 and "Застосувати до всієї групи" in desk.text

    assert official.put(report + "/conclusion", json={"conclusion": "Сквер зберігаємо."}).status_code == 200
    assert official.post(report + "/publish").status_code == 202
    assert eventually(lambda: official.get(report + "/versions").json()["items"], seconds=20)
    anonymous = Caller(campaign["base"])
    html = anonymous.get(report + ".html").text
    assert html.count(f"{len(VARIANTS) - 1} однакових/майже однакових пропозицій") == 1
    assert "Учасник Кампанії 4" in html and "ВИМАГАЄМО" not in html  # the upper-case copy is not repeated
    rows = list(csv.DictReader(io.StringIO(anonymous.get(report + ".csv").content.decode("utf-8-sig"))))
    assert len(rows) == len(ids)
    column = "Група однакових/майже однакових"
    assert [r[column] for r in rows].count(gid) == len(VARIANTS) - 1
    assert {r[column] for r in rows if r["Ідентифікатор"] in (ids[5], ids[-1])} == {""}
    assert official.put(report + f"/groups/{gid}/consideration",
                        json={"outcome": "accepted"}).json()["code"] == "report_published"


KEYBOARD_UNIT = "Управління клавіатурних груп"


@pytest.fixture(scope="module")
def small_campaign(env, system):
    """A closed consultation with a campaign of three near-identical proposals, grouped."""
    base = system.base_url
    official = dev_login(base, ["official"], unit=KEYBOARD_UNIT, full_name="Клавіатурна Групова Олена")
    cid = open_consultation(official, title="Сквер біля школи: клавіатура", question="Що робити зі сквером?")["id"]
    ids = []
    for n, body in enumerate([CAMPAIGN, CAMPAIGN.upper(), CAMPAIGN.replace("старі", "високі")]):
        r = dev_login(base, full_name=f"Клавіатурний Учасник {n}").post(f"/api/v1/consultations/{cid}/comments",
                                                                         json={"body": body})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert eventually(lambda: {i["id"] for i in Caller(base).get(
        f"/api/v1/consultations/{cid}/comments?per_page=100").json()["items"]} == set(ids), seconds=20)
    close_now(env, cid)
    report = f"/api/v1/consultations/{cid}/report"
    assert eventually(lambda: official.get(report).status_code == 200, seconds=20)

    def grouped():
        r = official.get(report + "/groups")
        items = r.json()["items"] if r.status_code == 200 else []
        return items[0]["group_id"] if len(items) == 1 and items[0]["size"] == len(ids) else None
    gid = eventually(grouped, seconds=30)
    assert gid, official.get(report + "/groups").text
    return {"cid": cid, "gid": gid, "ids": ids, "official": official, "report": report}


def test_r_3_16_an_official_answers_a_campaign_once_and_splits_a_member_out_with_the_keyboard_only(
        system, small_campaign, new_page):
    """R-3.16 (WCAG 2.1.1, 2.4.3, 2.4.7): on the desk of a closed consultation, one consideration
    and justification for the whole group by Tab, the arrow keys, typing and Enter; the group's page
    opened from its heading link; one member split out by its button; axe-core finds nothing on the
    desk with its groups section nor on the group's page after each step; the API then shows every
    member considered and the split member in a group of its own."""
    cid, gid, ids = small_campaign["cid"], small_campaign["gid"], small_campaign["ids"]
    official, report = small_campaign["official"], small_campaign["report"]
    victim = next(i for i in reversed(ids) if i != gid)  # not the founder, whose id the group keeps
    member = {m["comment_id"]: m for m in official.get(report + f"/groups/{gid}").json()["members"]}[victim]
    page = new_page()
    page.set_default_timeout(45_000)  # axe-core's first run in a fresh browser, on a shared 2-core machine
    login(page, system.base_url, "Клавіатурна Посадовиця Груп", roles=("resident", "official"), unit=KEYBOARD_UNIT,
          next_path=f"/official/consultations/{cid}/report")
    group = page.locator(f"#g-{gid}")
    assert "3 однакових/майже однакових пропозицій" in group.locator("h3").inner_text()
    check_axe(page, "report desk with a group")

    skip_to_main(page)
    outcome = group.get_by_label("Розгляд усієї групи (3)")
    tab_to(page, outcome)
    choose_with_arrows(page, outcome, "partly_accepted")
    tab_to(page, group.get_by_label("Обґрунтування для групи"))
    page.keyboard.type("Доріжки й лавки — у плані благоустрою на 2027 рік.")
    check_axe(page, "report desk, the group's form filled in")
    tab_to(page, group.get_by_role("button", name="Застосувати до всієї групи"))
    press(page, "Enter")
    assert "Розгляд збережено для всієї групи: 3" in page.locator(".flash").inner_text()
    assert "Розглянуто 3 з 3" in page.locator(f"#g-{gid}").inner_text()
    check_axe(page, "report desk after the group's consideration")

    assert page.url.endswith("#groups")  # back at the groups: the next Tab starts from there
    tab_to(page, page.locator(f"#g-{gid} h3 a"))
    press(page, "Enter")
    assert page.url.endswith(f"/official/consultations/{cid}/report/groups/{gid}")
    assert re.search(r"Розглянуто\s+3\s+з\s+3", page.locator("#counter").inner_text())
    check_axe(page, "the group's page")

    skip_to_main(page)
    tab_to(page, page.get_by_role("button", name=f"Виокремити № {member['number']} і розглянути окремо"))
    press(page, "Enter")
    assert "Пропозицію виокремлено" in page.locator(".flash").inner_text()
    assert "2 однакових/майже однакових пропозицій" in page.locator("h1").inner_text()
    assert page.locator(f"#m-{victim}").count() == 0
    check_axe(page, "the group's page after a split")

    items = {p["comment_id"]: p for p in official.get(report + "/considerations?per_page=50").json()["items"]}
    assert all(items[i]["outcome"] == "partly_accepted" and "2027" in items[i]["justification"] for i in ids)
    assert [items[i]["group_id"] for i in ids] == [victim if i == victim else gid for i in ids]
    assert official.get(report + f"/groups/{victim}").json()["total"] == 1
    assert official.get(report + f"/groups/{gid}").json()["total"] == 2
