"""Attachments (R-3.13 materials, R-3.18 decision files): the real content type is checked, a
mislabelled or oversized file is refused and changes nothing, downloads carry their SHA-256."""
from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from tests.support.samples import draft_body
from tests.support.api import Caller, dev_login
from tests.support.samples import PDF

pytestmark = pytest.mark.system


def docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document>Пояснювальна записка</w:document>")
    return buf.getvalue()


@pytest.fixture(scope="module")
def draft(system):
    official = dev_login(system.base_url, ["official"], unit="Фінансове управління", full_name="Фінанси Зінаїда")
    return official, official.post("/api/v1/consultations", json=draft_body(title="Бюджет 2027 року")).json()


def upload(caller, cid, data: bytes, name: str, mime: str, **form):
    return caller.post(f"/api/v1/consultations/{cid}/attachments", files={"file": (name, data, mime)}, data=form)


def test_materials_are_checked_stored_and_served_with_their_hash(system, draft):
    """Clause R-3.13."""
    official, c = draft
    r = upload(official, c["id"], PDF, "розрахунок.pdf", "application/pdf", title="Розрахунок тарифу")
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["content_type"] == "application/pdf" and meta["sha256"] == hashlib.sha256(PDF).hexdigest()
    r = upload(official, c["id"], docx(), "записка.docx", "application/octet-stream")
    assert r.status_code == 201 and r.json()["content_type"].endswith("wordprocessingml.document")
    got = official.get(meta["url"])
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["X-Content-SHA256"] == meta["sha256"] and got.headers["Content-Type"] == "application/pdf"
    assert official.get(meta["url"], headers={"If-None-Match": f'"{meta["sha256"]}"'}).status_code == 304
    page = official.get(f"/api/v1/consultations/{c['id']}").json()
    assert [a["title"] for a in page["attachments"]] == ["Розрахунок тарифу", "записка.docx"]
    assert Caller(system.base_url).get(meta["url"]).status_code == 404  # a draft's files are not public


def test_mislabelled_unknown_oversized_and_foreign_uploads_change_nothing(system, draft):
    """Clauses R-3.13, R-3.18."""
    official, c = draft
    before = official.get(f"/api/v1/consultations/{c['id']}").json()["attachments"]
    r = upload(official, c["id"], PDF, "photo.png", "image/png")
    assert r.status_code == 415 and r.json()["code"] == "mislabelled_file"
    r = upload(official, c["id"], b"MZ\x90\x00 not a document", "setup.exe", "application/pdf")
    assert r.status_code == 415 and r.json()["code"] == "unsupported_file"
    r = upload(official, c["id"], b"%PDF-" + b"0" * (21 * 1024 * 1024), "huge.pdf", "application/pdf")
    assert r.status_code == 413
    stranger = dev_login(system.base_url, ["official"], unit="Сторонній відділ", full_name="Сторонній Ігор")
    assert upload(stranger, c["id"], PDF, "a.pdf", "application/pdf").status_code == 404
    resident = dev_login(system.base_url, full_name="Мешканка Без Прав")
    assert upload(resident, c["id"], PDF, "a.pdf", "application/pdf").status_code == 403
    r = upload(official, c["id"], PDF, "рішення.pdf", "application/pdf", kind="decision")
    assert r.status_code == 409 and r.json()["code"] == "no_decision"
    assert official.get(f"/api/v1/consultations/{c['id']}").json()["attachments"] == before
