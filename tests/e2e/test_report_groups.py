"""Groups of near-identical proposals through the gateway: a campaign's comments grouped while the
consultation runs, the desk's groups (representative, count, authors, differences), one
consideration for the whole group stored per proposal, a member split out and considered alone,
bad input refused by field, and the published report showing the group once in HTML while the
CSV keeps a row per comment with its group_id (R-3.16, R-3.14)."""
from __future__ import annotations

import csv
import io

import pytest

from tests.support.api import Caller, dev_login
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
