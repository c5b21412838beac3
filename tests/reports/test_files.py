"""The report's files written as a stream (R-3.16, R-3.14): the PDF page by page with the text
extractable in Ukrainian and wrapped to the page, a page's worth of text held at a time; the XLSX as
a zip stream that spreadsheet readers open, every row there."""
from __future__ import annotations

import re

from openpyxl import load_workbook
from pypdf import PdfReader

from services.reports import pdf, render

COLUMNS = [("number", "№"), ("author_name", "Автор"), ("created_at", "Подано"), ("target", "Щодо"),
           ("body", "Пропозиція"), ("outcome", "Результат розгляду")]


def rows(n: int):
    for i in range(1, n + 1):
        yield {"number": i, "author_name": f"Старша Галина Іванівна {i}", "created_at": "2026-11-20T10:00:00+00:00",
               "target": "загалом", "outcome": "враховано",
               "body": f"Пропозиція {i}: облаштувати безпечний перехід біля школи та додати освітлення на зупинці. " * 3}


def test_R_3_16_the_pdf_is_written_page_by_page_and_its_ukrainian_text_can_be_extracted(tmp_path, monkeypatch):
    """R-3.16: the report's PDF carries every proposal in Ukrainian (extractable, wrapped to the page,
    a long word cut rather than lost) while the writer holds one page of text at a time."""
    held = []
    end_page = pdf.Writer._end_page

    def spy(self):
        held.append(sum(len(op) for op in self.ops))
        end_page(self)
    monkeypatch.setattr(pdf.Writer, "_end_page", spy)
    doc = render.Document(title="Звіт «Сквер»", sections=[("Питання", ["Чи потрібен сквер біля школи?"])], meta={},
                          columns=COLUMNS, formats=("pdf",))
    long_word = "https://example.com/" + "дуже" * 80
    paths = render.write_all(doc, list(rows(600)) + [{"number": 601, "author_name": "Автор", "body": long_word}],
                             str(tmp_path), "r")
    reader = PdfReader(paths["pdf"])
    assert len(reader.pages) == len(held) > 20
    assert max(held) < 40_000  # one page's drawing operators, whatever the number of rows
    first = re.sub(r"\s+", " ", reader.pages[0].extract_text())
    assert "Звіт «Сквер»" in first and "Чи потрібен сквер біля школи?" in first and "Старша Галина Іванівна 1" in first
    last = reader.pages[-1].extract_text()
    assert "601 · Автор" in last and "".join(last.split("601 · Автор", 1)[1].split()) == long_word
    width = pdf.PAGE_W - 2 * pdf.MARGIN
    face = pdf.face(render._font_files()[0])
    for line in reader.pages[3].extract_text().splitlines():
        assert sum(face.width[c] for c in line) * 9 / 1000 <= width + 1


def test_R_3_16_the_xlsx_stream_opens_with_every_row_on_its_sheet(tmp_path):
    """R-3.16: the XLSX (written as a zip stream) has the report's sheets and one row per proposal."""
    doc = render.Document(title="Звіт", sections=[("Питання", ["Чи потрібен сквер?"])], meta={}, columns=COLUMNS,
                          formats=("xlsx",))
    paths = render.write_all(doc, rows(1200), str(tmp_path), "r")
    book = load_workbook(paths["xlsx"], read_only=True)
    assert book.sheetnames == ["Звіт", "Пропозиції"]
    got = list(book["Пропозиції"].iter_rows(values_only=True))
    assert got[0] == tuple(label for _, label in COLUMNS) and len(got) == 1201
    assert got[1200][1] == "Старша Галина Іванівна 1200"
    assert list(book["Звіт"].iter_rows(values_only=True))[2] == ("Питання",)


def test_the_printable_pack_has_the_notice_the_numbered_draft_and_a_form_in_extractable_ukrainian(tmp_path):
    """Offline participation (R-3.13, R-3.5): the pack is a PDF written as the report's (Roboto, so
    Cyrillic is searchable) holding the notice, the draft's paragraphs by number and a form to fill in."""
    from services.reports import rules

    page = {"id": "c0ffee00-0000-0000-0000-000000000001", "title": "Правила благоустрою",
            "question": "Чи погоджуєтеся ви з новими правилами?", "starts_on": "2026-11-10", "ends_on": "2026-12-10",
            "notice": {"holder": "Виконавчий комітет", "responsible_official": "Коваль Ірина"},
            "alternatives": [], "questions": [], "draft_version": 2,
            "paragraphs": [{"number": 1, "text": "Загальні положення."}, {"number": 2, "text": "Прибирання дворів."}]}
    sections = dict(rules.pack_sections(page))
    assert sections["Проєкт акта (редакція 2)"] == ["1. Загальні положення.", "2. Прибирання дворів."]
    assert "Орган, що проводить консультацію: Виконавчий комітет" in sections["Інформаційне повідомлення"]
    assert "Строк консультації: з 10.11.2026 до 10.12.2026 включно" in sections["Інформаційне повідомлення"]
    form = sections["Форма для подання пропозиції"]
    assert "    [ ] пункту проєкту № ____" in form and "    [ ] альтернативи № ____" not in form
    doc = render.Document(title="Консультація з громадськістю: «Правила благоустрою»",
                          sections=rules.pack_sections(page), meta={}, columns=[], formats=("pdf",), rows_title=None)
    paths = render.write_all(doc, [], str(tmp_path), "pack")
    text = "".join(p.extract_text() for p in PdfReader(paths["pdf"]).pages)
    for expected in ("Правила благоустрою", "2. Прибирання дворів.", "Форма для подання пропозиції",
                     "Прізвище, ім'я, по батькові автора"):
        assert expected in text
    assert "Пропозиції та зауваження" not in text  # no table heading in a document of sections only


def test_the_pack_is_rendered_once_per_content_whoever_reads_it(monkeypatch):
    """The pack depends only on what it shows: a second reader (whose page differs in what only they
    see) gets the stored file without a new render; a changed draft makes a new one."""
    from services.reports import handlers

    stored, renders = {}, []

    class Files:
        def put(self, data: bytes) -> str:
            import hashlib

            digest = hashlib.sha256(data).hexdigest()
            stored[digest] = data
            return digest

    real = render.write_all
    monkeypatch.setattr(render, "write_all", lambda *a, **k: renders.append(1) or real(*a, **k))
    monkeypatch.setattr(handlers, "_packs", type(handlers._packs)())
    page = {"id": "c1", "title": "Сквер", "question": "Що посадити?", "starts_on": "2026-11-10",
            "ends_on": "2026-12-10", "notice": {}, "alternatives": [], "questions": [], "paragraphs": []}
    first = handlers.consultation_pack(Files(), {**page, "missing_for_publication": None})
    again = handlers.consultation_pack(Files(), {**page, "missing_for_publication": [], "outcome": {"x": 1}})
    assert first == again and len(renders) == 1 and first["sha256"] in stored
    changed = handlers.consultation_pack(Files(), {**page, "question": "Що посадити навесні?"})
    assert changed["sha256"] != first["sha256"] and len(renders) == 2
