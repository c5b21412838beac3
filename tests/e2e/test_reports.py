"""The R-3.16 report through the gateway: snapshot on close, consideration of every proposal (refused
to publish while one lacks it), published versions immutable, the decision makes version 2, files
(PDF with Ukrainian text, CSV/JSON/XLSX with every proposal), the R-3.14 protocol, the R-1.11
archive bundle with its sha256sum manifest, and statistics."""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import uuid
import zipfile

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import text

from chassis.db import make_engine
from chassis.workdays import local_today
from tests.support.consultations import close_now, open_consultation
from tests.support.consultations import case_for
from tests.support.waiting import eventually
from tests.support.api import Caller, dev_login, years_ago

pytestmark = pytest.mark.system

QUESTION = "Чи підтримуєте ви облаштування велодоріжки на вулиці Грушевського?"


def words(s: str) -> str:
    return re.sub(r"\s+", " ", s)


@pytest.fixture(scope="module")
def closed(env, system):
    """A proposal with three published comments, one held by moderation and one rejected, closed."""
    base = system.base_url
    official = dev_login(base, ["official"], unit="Управління звітів тест", full_name="Звітна Олена Петрівна")
    c = open_consultation(official, title="Велодоріжка на Грушевського", question=QUESTION)
    cid = c["id"]
    alt = c["alternatives"][0]["id"]
    teen = dev_login(base, full_name="Юний Андрій Олегович", birth_date=years_ago(16))
    elder = dev_login(base, full_name="Старша Галина Іванівна", birth_date=years_ago(70))
    adult = dev_login(base, full_name="Дорослий Богдан Сергійович", birth_date=years_ago(30))
    texts = ["Підтримую велодоріжку, але з освітленням уночі.",
             "Прошу зробити доріжку шириною не менше двох метрів.",
             "Варто поставити стоянки для велосипедів біля школи."]
    ids = []
    for who, body in zip((teen, elder, adult), texts):
        r = who.post(f"/api/v1/consultations/{cid}/comments", json={"body": body, "alternative_id": alt})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert adult.post(f"/api/v1/consultations/{cid}/responses", json={"alternative_id": alt}).status_code == 200
    held = adult.post(f"/api/v1/consultations/{cid}/comments",
                      json={"body": "Деталі тут: https://example.com/veloplan"}).json()["id"]
    rude = elder.post(f"/api/v1/consultations/{cid}/comments", json={"body": "Ця доріжка — повна xуйня"}).json()["id"]
    moderator = dev_login(base, ["moderator"], full_name="Модератор Звітів")
    case = eventually(lambda: case_for(moderator, rude))
    assert moderator.post(f"/api/v1/moderation/cases/{case['id']}/decision",
                          json={"decision": "reject", "grounds": ["obscene"]}).status_code == 200
    assert eventually(lambda: case_for(moderator, held))

    def published():
        items = Caller(base).get(f"/api/v1/consultations/{cid}/comments?per_page=100").json()["items"]
        return {i["id"] for i in items} == set(ids)
    assert eventually(published, seconds=15)
    assert eventually(lambda: [x for x in elder.get("/api/v1/me/comments").json()["items"]
                               if x["id"] == rude and x["status"] == "rejected"])
    close_now(env, cid)
    assert eventually(lambda: official.get(f"/api/v1/consultations/{cid}/report").status_code == 200, seconds=15)
    return {"cid": cid, "official": official, "ids": ids, "texts": texts, "held": held, "rude": rude,
            "moderator": moderator, "admin": dev_login(base, ["admin"], full_name="Адмін Звітів"),
            "stranger": dev_login(base, ["official"], unit="Чужий відділ звітів", full_name="Чужа Посадовиця")}


def test_consider_refuse_publish_and_files(env, system, closed):
    """Clauses R-1.4, R-1.6, R-3.8, R-3.16, R-3.17."""
    cid, official, ids = closed["cid"], closed["official"], closed["ids"]
    anonymous = Caller(system.base_url)
    base = f"/api/v1/consultations/{cid}/report"
    draft = official.get(base).json()
    assert draft["status"] == "draft" and draft["proposals"] == 3 and draft["participants"] == 3
    rep = draft["representativeness"]
    assert rep["age_bands"]["14–17"] == 1 and rep["age_bands"]["60+"] == 1 and rep["age_bands"]["18–35"] == 1
    assert rep["first_time"] + rep["returning"] == 3
    assert anonymous.get(base).status_code == 404  # not published yet
    assert closed["stranger"].put(base + "/considerations", json={"comment_id": ids[0], "outcome": "accepted"}).status_code == 404  # draft: not theirs to see

    no_reason = official.put(base + "/considerations", json={"comment_id": ids[0], "outcome": "not_accepted"})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "body.justification"
    not_a_proposal = official.put(base + "/considerations", json={"comment_id": closed["rude"], "outcome": "accepted"})
    assert not_a_proposal.status_code == 422 and not_a_proposal.json()["code"] == "proposal_not_found"
    bulk = official.put(base + "/considerations/bulk", json={"comment_ids": ids[:2], "outcome": "partly_accepted",
                                                             "justification": "Освітлення та ширину враховано в проєкті"})
    assert bulk.status_code == 200 and bulk.json() == {"updated": 2}
    assert official.put(base + "/conclusion", json={"conclusion": "Громада підтримує велодоріжку."}).status_code == 200

    refused = official.post(base + "/publish")
    assert refused.status_code == 422 and refused.json()["code"] == "report_incomplete"
    assert "1" in refused.json()["detail"]
    assert {e["field"] for e in refused.json()["errors"]} == {"considerations", f"considerations.{ids[2]}"}
    missing = official.get(base + "/considerations?missing=true").json()
    assert [p["comment_id"] for p in missing["items"]] == [ids[2]] and missing["considered"] == 2

    assert official.put(base + "/considerations", json={"comment_id": ids[2], "outcome": "not_accepted",
                                                        "justification": "Стоянки — окремий проєкт"}).status_code == 200
    queued = official.post(base + "/publish")
    assert queued.status_code == 202 and queued.json()["next_version"] == 1, queued.text
    assert eventually(lambda: official.get(base + "/versions").json()["items"], seconds=15)
    v1 = official.get(base + "/versions").json()["items"][0]
    assert v1["version"] == 1 and set(v1["files"]) == {"html", "pdf", "csv", "json", "xlsx"}
    assert official.post(base + "/publish").json()["code"] == "already_published"
    late = official.put(base + "/considerations", json={"comment_id": ids[2], "outcome": "accepted"})
    assert late.status_code == 409 and late.json()["code"] == "report_published"

    public = anonymous.get(base).json()
    assert public["status"] == "published" and public["overdue"] is False
    pdf = anonymous.get(base + ".pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["X-Content-SHA256"] == v1["files"]["pdf"]["sha256"]
    extracted = words(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages))
    assert words(QUESTION) in extracted and "Старша Галина Іванівна" in extracted
    rows = list(csv.DictReader(io.StringIO(anonymous.get(base + ".csv").content.decode("utf-8-sig"))))
    assert sorted(r["Пропозиція"] for r in rows) == sorted(closed["texts"])
    assert {r["Результат розгляду"] for r in rows} == {"враховано частково", "не враховано"}
    data = anonymous.get(base + ".json").json()
    assert [i["comment_id"] for i in data["items"]] == ids and data["meta"]["question"] == QUESTION
    assert "birth" not in json.dumps(data)
    sheet = load_workbook(io.BytesIO(anonymous.get(base + ".xlsx").content), read_only=True)["Пропозиції"]
    head, *body = list(sheet.iter_rows(values_only=True))
    assert sorted(r[head.index("Пропозиція")] for r in body) == sorted(closed["texts"])
    assert {r[head.index("Канал")] for r in body} == {"на вебсайті"}  # every proposal's channel
    page = anonymous.get(base + ".html")
    assert page.headers["Content-Type"].startswith("text/html") and "Дорослий Богдан Сергійович" in page.text

    # consultations marks the report deadline met when report_published arrives
    def met():
        rows = [d for d in official.get("/api/v1/deadlines").json()["items"]
                if d["consultation_id"] == cid and d["kind"] == "report"]
        return rows and rows[0]["done_at"] and not rows[0]["overdue"]
    assert eventually(met)


def test_published_version_is_immutable_and_the_decision_makes_version_2(env, system, closed):
    """Clauses R-3.16, R-3.18."""
    cid, official = closed["cid"], closed["official"]
    base = f"/api/v1/consultations/{cid}/report"
    v1 = official.get(base + "/versions").json()["items"]
    assert [v["version"] for v in v1] == [1]
    again = official.post(base + "/snapshot")
    assert again.status_code == 409 and again.json()["code"] == "report_published"
    assert closed["stranger"].post(base + "/snapshot").status_code == 403
    assert closed["stranger"].put(base + "/conclusion", json={"conclusion": "Чуже"}).status_code == 403
    engine = make_engine("reports", env.settings())
    try:
        for sql in ("UPDATE reports SET content_sha256 = 'x' WHERE consultation_id = :c",
                    "DELETE FROM reports WHERE consultation_id = :c"):
            with pytest.raises(Exception, match="immutable"):
                with engine.begin() as conn:
                    conn.execute(text(sql), {"c": uuid.UUID(cid)})
    finally:
        engine.dispose()
    r = official.post(f"/api/v1/consultations/{cid}/decision", json={
        "number": "№ 77", "adopted_on": local_today().isoformat(), "title": "Про облаштування велодоріжки",
        "text": "Облаштувати велодоріжку з урахуванням пропозицій громади."})
    assert r.status_code == 201, r.text
    assert eventually(lambda: len(official.get(base + "/versions").json()["items"]) == 2, seconds=15)
    items = official.get(base + "/versions").json()["items"]
    assert items[0] == v1[0] and items[1]["reason"] == "decision"
    newest = Caller(system.base_url).get(base + ".json").json()
    assert newest["meta"]["version"] == 2 and newest["meta"]["decision"]["number"] == "№ 77"
    old = Caller(system.base_url).get(base + ".json?version=1")
    assert old.headers["X-Content-SHA256"] == v1[0]["files"]["json"]["sha256"] and old.json()["meta"]["decision"] is None


def test_protocol_lists_every_submitted_comment_for_insiders_only(system, closed):
    """Clauses R-3.9, R-3.14."""
    cid = closed["cid"]
    full = closed["official"].get(f"/api/v1/consultations/{cid}/protocol").json()
    by_body = {i["body"]: i for i in full["items"]}
    assert len(full["items"]) == 5
    rejected = next(i for i in full["items"] if i["status"] == "відхилено")
    assert rejected["grounds"] == ["obscene"] and rejected["author_name"] == "Старша Галина Іванівна"
    assert any(i["status"] == "на модерації" for i in full["items"])
    assert all(by_body[t]["status"] == "оприлюднено" for t in closed["texts"])
    public = Caller(system.base_url).get(f"/api/v1/consultations/{cid}/protocol").json()
    assert len(public["items"]) == 3 and "grounds" not in public["items"][0]
    assert public["meta"]["counts"] == {"submitted": 5, "published": 3}
    pdf = closed["moderator"].get(f"/api/v1/consultations/{cid}/protocol.pdf")
    assert "Протокол" in words(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text())


def test_archive_bundle_checks_with_sha256sum_and_refuses_deletion(system, closed, tmp_path):
    """Clauses R-1.11, R-3.14."""
    cid, official = closed["cid"], closed["official"]
    assert official.post(f"/api/v1/consultations/{cid}/archive").status_code == 200
    anonymous = Caller(system.base_url)
    zipped = eventually(lambda: (r := anonymous.get(f"/api/v1/consultations/{cid}/archive/bundle.zip")).status_code == 200 and r,
                        seconds=20)
    assert zipped, "no bundle"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as z:
        z.extractall(tmp_path)
        names = set(z.namelist())
    assert {"manifest.sha256", "consultation.json", "decision.json", "protocol/protocol.csv",
            "report/v1/report.pdf", "report/v2/report.json"} <= names
    manifest = anonymous.get(f"/api/v1/consultations/{cid}/archive/manifest.sha256").text
    assert manifest == (tmp_path / "manifest.sha256").read_text()
    ok = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (tmp_path / "decision.json").write_text("{}")  # tampered: the check must fail
    assert subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=tmp_path, capture_output=True).returncode != 0
    # a rejected or pending comment is never public: the public bundle carries the
    # public protocol; the owning unit, moderators and administrators get the full one
    public_protocol = (tmp_path / "protocol" / "protocol.csv").read_text(encoding="utf-8-sig")
    assert closed["texts"][0] in public_protocol and "xуйня" not in public_protocol and "veloplan" not in public_protocol
    full = closed["moderator"].get(f"/api/v1/consultations/{cid}/archive/bundle.zip")
    assert full.status_code == 200 and full.headers["X-Content-SHA256"] != zipped.headers["X-Content-SHA256"]
    with zipfile.ZipFile(io.BytesIO(full.content)) as z:
        full_protocol = z.read("protocol/protocol.csv").decode("utf-8-sig")
        assert z.read("manifest.sha256").decode() == official.get(
            f"/api/v1/consultations/{cid}/archive/manifest.sha256").text
    assert "xуйня" in full_protocol and "obscene" in full_protocol and "veloplan" in full_protocol
    report = anonymous.get(f"/api/v1/consultations/{cid}/report").json()
    assert report["archived"] and report["retain_until"] == local_today().replace(year=local_today().year + 5).isoformat()
    refused = closed["admin"].delete(f"/api/v1/consultations/{cid}/report")
    assert refused.status_code == 409 and refused.json()["code"] == "retention_period"
    assert official.put(f"/api/v1/consultations/{cid}/report/conclusion", json={"conclusion": "Інше"}).status_code == 409


def test_statistics_of_the_year(system, closed):
    """Clause R-3.16."""
    stats = Caller(system.base_url).get(f"/api/v1/reports/stats?year={local_today().year}")
    assert stats.status_code == 200
    mine = [p for p in stats.json()["per_consultation"] if p["consultation_id"] == closed["cid"]]
    assert mine and mine[0]["comments"] == 3 and mine[0]["considered"] == 3 and mine[0]["deadline_met"]
    assert stats.json()["closed"] >= 1 and stats.json()["consultations_by_category"]
    assert Caller(system.base_url).get("/api/v1/reports/stats?year=1999").status_code == 422
