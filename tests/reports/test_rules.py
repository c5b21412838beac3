"""The report's rules without infrastructure: consideration completeness, justification, age bands,
representativeness, retention and the sha256sum manifest (R-1.11, R-3.16)."""
from __future__ import annotations

import hashlib
import subprocess
import uuid
from datetime import date

import pytest

from chassis.errors import InvalidInput, parse
from contracts.reports import BulkConsiderationIn, ConsiderationIn
from services.registry.rules import age_band
from services.reports import render, rules


def test_publishing_is_refused_naming_count_and_ids_of_proposals_without_consideration():
    """Clauses R-1.1, R-3.16."""
    ids = [uuid.uuid4() for _ in range(150)]
    missing = rules.missing_considerations(ids, set(ids[:10]))
    assert missing == ids[10:]
    with pytest.raises(InvalidInput) as refused:
        rules.refuse_unless_complete(missing, "Висновок")
    errors = refused.value.errors
    assert refused.value.code == "report_incomplete" and "140" in refused.value.detail
    assert errors[0]["field"] == "considerations" and "140" in errors[0]["message"]
    assert [e["field"] for e in errors[1:]] == [f"considerations.{i}" for i in ids[10:10 + rules.SHOWN_IDS]]
    with pytest.raises(InvalidInput) as no_conclusion:
        rules.refuse_unless_complete([], "  ")
    assert [e["field"] for e in no_conclusion.value.errors] == ["conclusion"]
    rules.refuse_unless_complete([], "Громада підтримує")  # complete: no error


@pytest.mark.parametrize("outcome, justification, ok", [
    ("accepted", None, True), ("partly_accepted", None, False), ("not_accepted", "  ", False),
    ("not_accepted", "Суперечить генплану", True), ("rejected", "x", False)])
def test_justification_is_required_unless_accepted(outcome, justification, ok):
    """Clause R-3.16."""
    body = {"comment_id": str(uuid.uuid4()), "outcome": outcome, "justification": justification}
    if ok:
        parse(ConsiderationIn, body)
    else:
        with pytest.raises(InvalidInput) as bad:
            parse(ConsiderationIn, body)
        assert bad.value.errors[0]["field"] in ("justification", "outcome")
    with pytest.raises(InvalidInput):
        parse(BulkConsiderationIn, {"comment_ids": [], "outcome": "accepted"})


@pytest.mark.parametrize("birth, band", [
    (date(2012, 6, 1), "14–17"), (date(2012, 6, 2), "under_14"), (date(2008, 6, 2), "14–17"),
    (date(2008, 6, 1), "18–35"), (date(1991, 6, 1), "18–35"), (date(1991, 6, 2), "18–35"), (date(1990, 6, 1), "36–60"),
    (date(1989, 6, 1), "36–60"), (date(1966, 6, 1), "36–60"), (date(1965, 6, 1), "60+"), (date(1965, 6, 2), "36–60"), (None, "unknown")])
def test_age_bands_on_a_day(birth, band):
    """Clause R-3.16."""
    assert age_band(birth, date(2026, 6, 1)) == band


def test_representativeness_counts_bands_and_first_time_without_birth_dates():
    """Clause R-3.12."""
    table = rules.representativeness([("14–17", True, 2), ("60+", False, 3), ("18–35", True, 1), ("odd", False, 1)])
    assert table == {"age_bands": {"14–17": 2, "18–35": 1, "36–60": 0, "60+": 3, "unknown": 1},
                     "first_time": 3, "returning": 4, "total": 7}


def test_retention_is_five_years_from_the_decision():
    """Clause R-1.11."""
    assert rules.retain_until(date(2026, 3, 10), date(2026, 11, 1)) == date(2031, 3, 10)
    assert rules.retain_until(None, date(2028, 2, 29)) == date(2033, 2, 28)


def test_manifest_is_checked_by_sha256sum(tmp_path):
    """Clause R-1.11."""
    files = {"a.txt": b"one", "dir/b.csv": "Пропозиція".encode()}
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    text = rules.manifest((n, hashlib.sha256(d).hexdigest()) for n, d in files.items())
    assert text.splitlines()[0].endswith("  a.txt")
    (tmp_path / "manifest.sha256").write_text(text)
    assert subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=tmp_path, capture_output=True).returncode == 0
    (tmp_path / "a.txt").write_bytes(b"two")
    assert subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=tmp_path, capture_output=True).returncode != 0


def test_every_format_is_written_in_one_pass(tmp_path):
    """Clause R-3.16."""
    doc = render.Document(title="Звіт «Тест»", sections=[("Питання", ["Чи потрібен сквер?"])], meta={"q": 1},
                          columns=[("number", "№"), ("author_name", "Автор"), ("body", "Пропозиція")])
    rows = ({"number": i, "author_name": f"Автор {i}", "body": f"Текст <{i}>"} for i in range(1, 4))
    paths = render.write_all(doc, rows, str(tmp_path), "r")
    assert set(paths) == set(render.REPORT_FORMATS)
    assert "&lt;3&gt;" in (tmp_path / "r.html").read_text()
    import json
    assert [i["number"] for i in json.loads((tmp_path / "r.json").read_text())["items"]] == [1, 2, 3]
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")


def test_r_3_16_representativeness_by_channel_lists_every_channel_with_proposals_and_authors():
    """R-3.16 (who took part): published proposals and distinct authors per channel, zeros included,
    and the report's line naming only the channels that brought proposals."""
    out = rules.by_channel([("web", 7, 5), ("paper", 2, 2), ("service_centre", 1, 1)])
    assert set(out) == {"web", "paper", "email", "hearing", "service_centre"}
    assert out["paper"] == {"label": "паперовий лист", "proposals": 2, "authors": 2}
    assert out["email"]["proposals"] == 0 and out["service_centre"]["label"] == "ЦНАП"
    line = rules.channel_line(out)
    assert line == ("За каналами надходження: на вебсайті: 7 (авторів 5); паперовий лист: 2 (авторів 2); "
                    "ЦНАП: 1 (авторів 1)")
    assert rules.channel_line(rules.by_channel([])) == "За каналами надходження: —"
