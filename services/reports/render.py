"""The report's and the protocol's files (R-3.14, R-3.16, R-1.4), written in one pass over the rows.

Every format is written incrementally into a temporary directory while the rows stream from the
database page by page: CSV, JSON and HTML line by line, XLSX with openpyxl's write-only workbook;
the PDF (fpdf2, Roboto embedded so Ukrainian renders everywhere) keeps only its compressed pages.
So memory stays bounded by one page of rows plus the PDF, whatever the number of comments.
"""
from __future__ import annotations

import csv
import html
import json
import os
from dataclasses import dataclass, field
from typing import Iterable

from chassis.text import csv_safe
from contracts.reports import CONTENT_TYPES, PROTOCOL_FORMATS, REPORT_FORMATS  # noqa: F401



@dataclass
class Document:
    """What a file says before its table: a title, sections of paragraphs (people read them in
    HTML/PDF/XLSX) and the same facts as data (``meta``, for JSON), then the columns of the rows."""

    title: str
    sections: list[tuple[str, list[str]]]
    meta: dict
    columns: list[tuple[str, str]]  # (key, Ukrainian heading)
    formats: tuple[str, ...] = REPORT_FORMATS
    rows_title: str = "Пропозиції та зауваження"
    written: dict[str, str] = field(default_factory=dict)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


class _Csv:
    def __init__(self, path: str, doc: Document):
        self.f = open(path, "w", encoding="utf-8", newline="")
        self.f.write("\ufeff")  # so spreadsheet programs read UTF-8
        self.w = csv.writer(self.f)
        self.w.writerow([label for _, label in doc.columns])
        self.keys = [k for k, _ in doc.columns]

    def row(self, r: dict) -> None:
        self.w.writerow([csv_safe(_cell(r.get(k))) for k in self.keys])

    def close(self) -> None:
        self.f.close()


class _Json:
    def __init__(self, path: str, doc: Document):
        self.f = open(path, "w", encoding="utf-8")
        self.f.write('{"meta": ' + json.dumps(doc.meta, ensure_ascii=False, sort_keys=True, default=str)
                     + ', "items": [')
        self.first = True
        self.keys = [k for k, _ in doc.columns]

    def row(self, r: dict) -> None:
        self.f.write(("\n" if self.first else ",\n")
                     + json.dumps({k: r.get(k) for k in self.keys}, ensure_ascii=False, default=str))
        self.first = False

    def close(self) -> None:
        self.f.write("]}\n")
        self.f.close()


class _Html:
    def __init__(self, path: str, doc: Document):
        e = html.escape
        self.f = open(path, "w", encoding="utf-8")
        self.keys = [k for k, _ in doc.columns]
        self.f.write(f'<!doctype html>\n<html lang="uk"><head><meta charset="utf-8"><title>{e(doc.title)}</title>'
                     "<style>body{font-family:sans-serif;max-width:72em;margin:auto}table{border-collapse:collapse}"
                     "td,th{border:1px solid #999;padding:.3em;vertical-align:top}</style></head><body>\n"
                     f"<h1>{e(doc.title)}</h1>\n")
        for heading, paragraphs in doc.sections:
            self.f.write(f"<h2>{e(heading)}</h2>\n" + "".join(f"<p>{e(p)}</p>\n" for p in paragraphs))
        self.f.write(f"<h2>{e(doc.rows_title)}</h2>\n<table><thead><tr>"
                     + "".join(f"<th>{e(label)}</th>" for _, label in doc.columns) + "</tr></thead><tbody>\n")

    def row(self, r: dict) -> None:
        self.f.write("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(k)))}</td>" for k in self.keys) + "</tr>\n")

    def close(self) -> None:
        self.f.write("</tbody></table></body></html>\n")
        self.f.close()


class _Xlsx:
    def __init__(self, path: str, doc: Document):
        from openpyxl import Workbook

        self.path = path
        self.wb = Workbook(write_only=True)
        about = self.wb.create_sheet("Звіт")
        self._append(about, [doc.title])
        for heading, paragraphs in doc.sections:
            about.append([])
            self._append(about, [heading])
            for p in paragraphs:
                self._append(about, [p])
        self.ws = self.wb.create_sheet("Пропозиції")
        self._append(self.ws, [label for _, label in doc.columns])
        self.keys = [k for k, _ in doc.columns]

    @staticmethod
    def _append(ws, texts: list[str]) -> None:
        """Text cells as strings, never formulas (openpyxl reads a value starting with «=» as one)."""
        from openpyxl.cell import WriteOnlyCell

        cells = []
        for text in texts:
            cell = WriteOnlyCell(ws, value=text[:32000])
            cell.data_type = "s"
            cells.append(cell)
        ws.append(cells)

    def row(self, r: dict) -> None:
        self._append(self.ws, [_cell(r.get(k)) for k in self.keys])

    def close(self) -> None:
        self.wb.save(self.path)


def _font_files() -> tuple[str, str]:
    """Roboto (Apache 2.0, with Cyrillic) from the font-roboto package on PyPI."""
    import font_roboto

    return font_roboto.font_files["Roboto"], font_roboto.font_files["RobotoBold"]


class _Pdf:
    def __init__(self, path: str, doc: Document):
        from fpdf import FPDF

        self.path = path
        regular, bold = _font_files()
        pdf = self.pdf = FPDF(format="A4")
        pdf.set_compression(True)
        pdf.add_font("Roboto", "", regular)
        pdf.add_font("Roboto", "B", bold)
        pdf.set_title(doc.title)
        pdf.set_auto_page_break(True, margin=15)
        pdf.add_page()
        self._text(doc.title, 15, bold=True)
        for heading, paragraphs in doc.sections:
            self._text(heading, 12, bold=True, before=3)
            for p in paragraphs:
                self._text(p, 10)
        self._text(doc.rows_title, 12, bold=True, before=3)
        self.columns = doc.columns

    def _text(self, text: str, size: int, bold: bool = False, before: float = 0) -> None:
        if before:
            self.pdf.ln(before)
        self.pdf.set_font("Roboto", "B" if bold else "", size)
        self.pdf.multi_cell(0, size * 0.5, text or " ", new_x="LMARGIN", new_y="NEXT")

    def row(self, r: dict) -> None:
        k0 = self.columns[0][0]
        head = " · ".join(_cell(r.get(k)) for k, _ in self.columns[:4] if r.get(k) not in (None, ""))
        self._text(head, 9, bold=True, before=1.5)
        for key, label in self.columns[4:]:
            value = _cell(r.get(key))
            if value and key not in (k0, "comment_id"):
                self._text(value if key == "body" else f"{label}: {value}", 9)

    def close(self) -> None:
        self.pdf.output(self.path)


WRITERS = {"csv": _Csv, "json": _Json, "html": _Html, "xlsx": _Xlsx, "pdf": _Pdf}


def write_all(doc: Document, rows: Iterable[dict], directory: str, stem: str) -> dict[str, str]:
    """Write every format of ``doc`` with ``rows`` (one pass) into ``directory``; format → path."""
    paths = {fmt: os.path.join(directory, f"{stem}.{fmt}") for fmt in doc.formats}
    writers = [WRITERS[fmt](path, doc) for fmt, path in paths.items()]
    for r in rows:
        for w in writers:
            w.row(r)
    for w in writers:
        w.close()
    doc.written = paths
    return paths
