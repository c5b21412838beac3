"""Hardening of the services (docs/hardening.md, "Services"): single-line
text, screening that invisible characters do not fool (R-3.7), duplicates, the archive's manifest."""
from __future__ import annotations

import hashlib
import subprocess
import uuid

import pytest

from chassis.errors import InvalidInput, parse
from chassis.text import canonical, line_breakers, visible
from contracts.consultations import AttachmentMeta, ConsultationIn, ConsultationPatch, DecisionIn
from contracts.registry import DevLoginIn, IdentityIn, OrganisationIn, UnitIn
from services.consultations.rules import same_text
from contracts.consultations import PlanEntryIn
from contracts.screening import fingerprint, screen
from services.reports import rules

BREAKERS = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\u202a", "\u202b", "\u202c",
            "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f"]
SHA = "a" * 64


def single_line_fields():
    """(model, valid data, field) for every single-line input field."""
    consultation = {"form": "proposal", "title": "Лавки в парку", "question": "Де поставити лавки?", "category": 3}
    return [
        (ConsultationIn, consultation, "title"),
        (ConsultationIn, {**consultation, "notice": {"holder": "Виконавчий комітет"}}, "notice.holder"),
        (ConsultationIn, {**consultation, "notice": {"responsible_official": "Іваненко І. І."}},
         "notice.responsible_official"),
        (ConsultationPatch, {"title": "Лавки в парку"}, "title"),
        (DecisionIn, {"number": "№ 415", "adopted_on": "2026-12-01", "title": "Про лавки в парку",
                      "text": "Встановити лавки в парку."}, "number"),
        (DecisionIn, {"number": "№ 415", "adopted_on": "2026-12-01", "title": "Про лавки в парку",
                      "text": "Встановити лавки в парку."}, "title"),
        (AttachmentMeta, {"title": "Схема", "filename": "scheme.pdf", "content_type": "application/pdf",
                          "size": 1, "sha256": SHA}, "title"),
        (AttachmentMeta, {"title": "Схема", "filename": "scheme.pdf", "content_type": "application/pdf",
                          "size": 1, "sha256": SHA}, "filename"),
        (PlanEntryIn, {"title": "Лавки в парку", "category": 3}, "title"),
        (IdentityIn, {"subject": "s-1", "full_name": "Петренко Олена"}, "full_name"),
        (IdentityIn, {"subject": "s-1", "full_name": "Петренко Олена"}, "subject"),
        (DevLoginIn, {"subject": "s-1", "full_name": "Петренко Олена", "unit": "Відділ"}, "full_name"),
        (DevLoginIn, {"subject": "s-1", "full_name": "Петренко Олена", "unit": "Відділ"}, "unit"),
        (UnitIn, {"name": "Відділ освіти", "head_name": "Коваль Іван"}, "name"),
        (UnitIn, {"name": "Відділ освіти", "head_name": "Коваль Іван"}, "head_name"),
        (OrganisationIn, {"name": "ГО «Зелене місто»", "kind": "ngo", "edrpou": "14360570"}, "name"),
    ]


def _set(data: dict, dotted: str, suffix: str) -> dict:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    *path, last = dotted.split(".")
    target = data
    for p in path:
        target = target[p]
    target[last] = target[last][:2] + suffix + target[last][2:]
    return data


@pytest.mark.parametrize("model,data,field", single_line_fields(), ids=lambda v: getattr(v, "__name__", str(v)))
def test_single_line_fields_refuse_line_breaks_and_bidi_controls_naming_the_field(model, data, field):
    parse(model, data)  # the valid text passes
    for ch in BREAKERS:
        with pytest.raises(InvalidInput) as caught:
            parse(model, _set(data, field, ch))
        assert [e["field"] for e in caught.value.errors] == [field], (repr(ch), caught.value.errors)
        assert f"U+{ord(ch):04X}" in caught.value.errors[0]["message"]


def test_single_line_keeps_ordinary_text():
    assert line_breakers("Петренко-Коваль О. «Зелене місто» № 5 ’ ʼ é ї й") == []
    assert line_breakers("invoice\u202efdp.exe") == ["U+202E"]


# ---- screening (R-3.7) ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,rule", [
    ("х\u200bуйня", "obscene"), ("х\u00adуйня", "obscene"), ("х\u0301уйня", "obscene"), ("ｈｕｙ", "obscene"),
    ("f\u200buck", "obscene"), ("a\u200b@evil.example", "email"), ("йобаний", "obscene"),
    ("йoбаний", "obscene"),  # a Latin «o»
    ("пройобати", "obscene"), ("з'йобатися", "obscene"), ("наййобаніший", "obscene"), ("розйобаний", "obscene"),
    ("067\u200b123\u200b45\u200b67", "phone"), ("ｔ.ｍｅ/spam", "messenger"),
])
def test_invisible_characters_and_lookalikes_do_not_bypass_screening_r_3_7(text, rule):
    result = screen(f"Коментар: {text} і все")
    assert result.held and rule in {m["rule"] for m in result.matches}, result.matches


@pytest.mark.parametrize("word", ["найобізнаніший", "займанщина", "йод", "йорж", "пройти", "прохання",
                                  "з'явитися", "зйомка", "знайомий", "проєкт", "зхожий", "йогурт"])
def test_the_new_roots_leave_ordinary_words_alone(word):
    assert not screen(f"Ми обговорюємо слово {word} у реченні.").held


def test_visible_keeps_ukrainian_letters():
    assert visible("й ї Й Ї ґ є") == "й ї Й Ї ґ є"
    assert visible("х\u0301\u200b\u00ad\u2060у") == "ху"


@pytest.mark.parametrize("copy", [
    "Прошу встановити лавки в парку.", "Прошу встановити лавки в парку!!", "Прошу встановити лав\u200bки в парку",
    "Прошу встановити лaвки в парку",  # a Latin «a»
    "ПРОШУ встановити  лавки в парку", "Прошу встановити лавки в парку\u00ad",
])
def test_duplicate_checks_see_through_punctuation_invisible_characters_and_lookalikes(copy):
    original = "Прошу встановити лавки в парку"
    assert same_text(original, copy) and fingerprint(original) == fingerprint(copy)
    assert screen(copy, {fingerprint(original)}).held
    assert not same_text(original, "Прошу встановити ліхтарі в парку")
    assert canonical("Так, Ё") == "так е"


# ---- the archive's manifest ------------------------------------------------------------------------

def test_manifest_names_cannot_add_lines_and_sha256sum_checks_them(tmp_path):
    names = ["plain.pdf", "evil\n" + "0" * 64 + "  consultation.json", "back\\slash.pdf", "cr\rname.pdf"]
    entries = []
    for name in names:
        (tmp_path / name).write_bytes(name.encode())
        entries.append((name, hashlib.sha256(name.encode()).hexdigest()))
    text = rules.manifest(entries)
    assert text.count("\n") == len(names)
    (tmp_path / "manifest.sha256").write_text(text)
    checked = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=tmp_path, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert rules.entry_name("dir/a\nb\u202etxt.pdf") == "a_b_txt.pdf"


# ---- formulas in the report's and the protocol's files (R-3.16, R-3.14) ------------------------------

FORMULAS = ["=2+3 і ще текст", "@SUM(1+1)*cmd|' /C calc'!A0", "=2+5 Формула", "+380 67 123 45 67", "-2+3",
            "\t=1+1", "\r=1+1", "=HYPERLINK(\"http://evil.example\",\"тисни\")"]


@pytest.mark.parametrize("formats", [("csv", "xlsx", "json", "html"), ("csv", "json")], ids=["report", "protocol"])
def test_no_cell_of_the_report_or_protocol_is_a_formula(tmp_path, formats):
    import csv
    import io
    import json

    from openpyxl import load_workbook

    from services.reports import render

    doc = render.Document(title="=1+1 Звіт", sections=[("=2+2", ["@SUM(1+1)*cmd|' /C calc'!A0", "-1"])],
                          meta={}, columns=[("author_name", "Автор"), ("body", "Пропозиція")], formats=formats)
    rows = [{"author_name": "=2+5 Формула", "body": text} for text in FORMULAS]
    paths = render.write_all(doc, rows, str(tmp_path), "report")
    cells = list(csv.reader(io.StringIO(open(paths["csv"], encoding="utf-8-sig", newline="").read())))[1:]
    assert len(cells) == len(FORMULAS)
    for (author, body), text in zip(cells, FORMULAS):
        assert author == "'=2+5 Формула" and body == "'" + text  # shown as written, after the apostrophe
    assert json.load(open(paths["json"]))["items"][0]["body"] == FORMULAS[0]  # data formats stay exact
    if "xlsx" in paths:
        book = load_workbook(paths["xlsx"])
        assert book.sheetnames == ["Звіт", "Пропозиції"]
        values = []
        for sheet in book:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                    values.append(cell.value)
        assert "=2+5 Формула" in values and "=1+1 Звіт" in values and "@SUM(1+1)*cmd|' /C calc'!A0" in values


def test_csv_safe_leaves_ordinary_text():
    from chassis.text import csv_safe

    assert [csv_safe(t) for t in ("Лавки", "2026-12-01", "", "'=x", " =x")] == ["Лавки", "2026-12-01", "", "'=x", " =x"]


# ---- dates and terms (R-1.12, R-3.11) ----------------------------------------------------------------

def test_r_3_11_one_month_is_a_calendar_month():
    from datetime import date

    from services.consultations.rules import Rules, add_months, term_shortfall

    rules = Rules()
    assert term_shortfall(date(2026, 12, 1), date(2026, 12, 30), True, rules)
    assert term_shortfall(date(2026, 12, 1), date(2026, 12, 31), True, rules)
    assert term_shortfall(date(2026, 12, 1), date(2027, 1, 1), True, rules) is None
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28) and add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert term_shortfall(date(2027, 1, 31), date(2027, 2, 27), True, rules)
    assert term_shortfall(date(2027, 1, 31), date(2027, 2, 28), True, rules) is None
    assert add_months(date(2026, 12, 15), 14) == date(2028, 2, 15)
    # the configurable reading: 30 calendar days counted inclusively, as before
    days = Rules(initiative_term="days", min_term_days_initiative=30)
    assert term_shortfall(date(2026, 12, 1), date(2026, 12, 30), True, days) is None
    assert term_shortfall(date(2026, 12, 1), date(2026, 12, 29), True, days)
    # an official's consultation: R-1.12's 15 calendar days
    assert term_shortfall(date(2026, 12, 1), date(2026, 12, 15), False, rules) is None
    assert term_shortfall(date(2026, 12, 1), date(2026, 12, 14), False, rules)


def test_dates_are_bounded_naming_the_field():
    from datetime import date

    from services.consultations.rules import Rules, date_errors

    today, rules = date(2026, 11, 30), Rules(max_years_ahead=2, max_term_days=366)
    assert date_errors(date(2026, 12, 1), date(2027, 1, 1), today, rules) == []
    far = date_errors(date(2026, 12, 1), date(9999, 12, 31), today, rules)
    assert [(e["field"], e["type"]) for e in far] == [("ends_on", "date_too_far"), ("ends_on", "term_too_long")]
    assert [e["type"] for e in date_errors(date(9999, 12, 1), date(9999, 12, 31), today, rules)] == [
        "date_too_far", "date_too_far"]
    assert [e["type"] for e in date_errors(date(2026, 12, 1), date(2028, 1, 1), today, rules)] == ["term_too_long"]
    assert [e["type"] for e in date_errors(date(2026, 12, 2), date(2026, 12, 1), today, rules)] == ["end_before_start"]


# ---- no input values in logs --------------------------------------------------------------------------

def test_validation_errors_are_logged_and_summarised_without_input_values():
    import logging

    from pydantic import BaseModel

    from chassis.errors import error_summary
    from chassis.log import Formatter

    class Event(BaseModel):
        item_id: uuid.UUID
        count: int

    phone = "+380671234567"
    try:
        Event.model_validate({"item_id": f"дзвоніть {phone}", "count": f"мій номер {phone}"})
    except Exception as exc:  # noqa: BLE001
        error = exc
    summary = error_summary(error)
    assert summary == "ValidationError of Event: item_id: uuid_parsing; count: int_parsing" and phone not in summary
    record = logging.LogRecord("nameko.containers", logging.ERROR, __file__, 1, "error handling worker: %s",
                               (error,), (type(error), error, error.__traceback__))
    line = Formatter("%(message)s").format(record)
    assert phone not in line and "uuid_parsing" in line and "item_id" in line, line


@pytest.mark.parametrize("model,data,field", [
    (IdentityIn, {"subject": "s-1", "full_name": "Петренко Олена", "email": "a@b.example"}, "email"),
    (IdentityIn, {"subject": "s-1", "full_name": "Петренко Олена", "phone": "+380671234567"}, "phone"),
])
def test_contacts_are_single_line_too(model, data, field):
    parse(model, data)
    for ch in ("\x1b", "\u202e", "\x0b"):
        with pytest.raises(InvalidInput) as caught:
            parse(model, {**data, field: data[field][:3] + ch + data[field][3:]})
        assert [e["field"] for e in caught.value.errors] == [field]
