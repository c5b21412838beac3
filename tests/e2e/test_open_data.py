"""Openness (R-1.4, R-1.7): Atom and iCalendar feeds, open data; the annual plan (R-3.3)."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from icalendar import Calendar

from chassis.workdays import local_today
from tests.support.consultations import open_consultation
from tests.support.api import Caller, dev_login

pytestmark = pytest.mark.system
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def published(system):
    official = dev_login(system.base_url, ["official"], unit="Відділ відкритих даних", full_name="Дані Петро")
    return [open_consultation(official, title="Сквер біля вокзалу", category=15),
            open_consultation(official, title="Тариф на воду", category=16)]


def test_atom_feed_all_and_per_category(system, published):
    """Clauses R-1.4, R-1.7, R-1.13."""
    anyone = Caller(system.base_url)
    r = anyone.get("/api/v1/feeds/consultations.atom")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/atom+xml")
    titles = [e.findtext(f"{ATOM}title") for e in ET.fromstring(r.content).iter(f"{ATOM}entry")]
    assert {"Сквер біля вокзалу", "Тариф на воду"} <= set(titles)
    only = ET.fromstring(anyone.get("/api/v1/feeds/consultations.atom?category=16").content)
    cats = {c.get("term") for c in only.iter(f"{ATOM}category")}
    assert cats == {"16"}
    links = [e.find(f"{ATOM}link").get("href") for e in only.iter(f"{ATOM}entry")]
    assert any(link.endswith(f"/consultations/{published[1]['id']}") for link in links)


def test_icalendar_of_terms_and_open_data(system, published):
    """Clauses R-1.4, R-1.7."""
    anyone = Caller(system.base_url)
    cal = Calendar.from_ical(anyone.get("/api/v1/feeds/consultations.ics").content)
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    ev = events[f"consultation-{published[0]['id']}@econsult"]
    assert ev.decoded("dtstart") == local_today()
    data = anyone.get("/api/v1/open-data/consultations.json").json()["items"]
    assert {published[0]["id"], published[1]["id"]} <= {c["id"] for c in data}
    text = anyone.get("/api/v1/open-data/consultations.csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    row = next(r for r in rows if r["id"] == published[1]["id"])
    assert row["title"] == "Тариф на воду" and row["category_title"].startswith("Зміни тарифів на житлово")


def test_annual_plan_takes_proposals(system):
    """Clause R-3.3."""
    year = local_today().year + 1
    official = dev_login(system.base_url, ["official"], unit="Управління стратегії", full_name="Стратегія Алла")
    resident = dev_login(system.base_url, full_name="Пропонувальник Юрій")
    planned = official.post(f"/api/v1/plan/{year}/entries", json={"title": "Стратегія розвитку міста до 2035",
                                                                   "category": 5, "planned_quarter": 2})
    assert planned.status_code == 201 and planned.json()["status"] == "planned"
    proposal = resident.post(f"/api/v1/plan/{year}/entries", json={"title": "Консультація про нічне освітлення",
                                                                    "category": 15})
    assert proposal.status_code == 201 and proposal.json()["status"] == "proposed"
    public = [e["id"] for e in Caller(system.base_url).get(f"/api/v1/plan/{year}").json()["items"]]
    assert planned.json()["id"] in public and proposal.json()["id"] not in public
    assert proposal.json()["id"] in [e["id"] for e in resident.get(f"/api/v1/plan/{year}").json()["items"]]
    taken = official.patch(f"/api/v1/plan/entries/{proposal.json()['id']}", json={"status": "planned", "planned_quarter": 3})
    assert taken.status_code == 200 and taken.json()["unit_name"] == "Управління стратегії"
    assert taken.json()["proposer_name"] == "Пропонувальник Юрій"
    assert resident.patch(f"/api/v1/plan/entries/{proposal.json()['id']}", json={"status": "cancelled"}).status_code == 403
    cal = Calendar.from_ical(Caller(system.base_url).get(f"/api/v1/plan/{year}.ics").content)
    assert len([e for e in cal.walk("VEVENT")]) >= 2
    bad = official.post(f"/api/v1/plan/{year}/entries", json={"title": "Коротко", "category": 5, "planned_quarter": 5})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.planned_quarter"
    assert Caller(system.base_url).get("/api/v1/plan/1800").status_code == 422
