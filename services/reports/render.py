"""The report's and the protocol's files (R-3.14, R-3.16, R-1.4), written in one pass over the rows.

Every format is written incrementally into a temporary directory while the rows stream from the
database page by page: CSV, JSON and HTML line by line, XLSX as a zip stream of inline-string
rows, the PDF page by page (``pdf.Writer``: Roboto embedded so Ukrainian renders everywhere).
So memory stays bounded by one page of rows, whatever the number of comments.
"""
from __future__ import annotations

import csv
import html
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from typing import Iterable

import font_roboto

from chassis.text import csv_safe
from contracts.reports import CONTENT_TYPES, PROTOCOL_FORMATS, REPORT_FORMATS  # noqa: F401
from services.reports import pdf



@dataclass
class Document:
    """What a file says before its table: a title, sections of paragraphs (people read them in
    HTML/PDF/XLSX) and the same facts as data (``meta``, for JSON), then the columns of the rows."""

    title: str
    sections: list[tuple[str, list[str]]]
    meta: dict
    columns: list[tuple[str, str]]  # (key, Ukrainian heading)
    formats: tuple[str, ...] = REPORT_FORMATS
    rows_title: str | None = "Пропозиції та зауваження"
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


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/worksheets/sheet2.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="Звіт" sheetId="1" r:id="rId1"/><sheet name="Пропозиції" sheetId="2" r:id="rId2"/>'
        '</sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet2.xml"/>'
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'styles" Target="styles.xml"/></Relationships>'),
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
}
_SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_SHEET_TAIL = "</sheetData></worksheet>"


def _xlsx_row(texts) -> str:
    """A row of text cells (inline strings: never formulas, whatever the text starts with)."""
    return "<row>" + "".join(
        '<c t="inlineStr"><is><t xml:space="preserve">'
        + html.escape(_NOT_XML.sub("", t[:32000]), quote=False) + "</t></is></c>" for t in texts) + "</row>"


class _Xlsx:
    """A workbook of two sheets («Звіт»: the sections, «Пропозиції»: the rows) written as a zip
    stream: the rows' sheet goes straight into its compressed entry."""

    def __init__(self, path: str, doc: Document):
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6)
        for name, text in _XLSX_PARTS.items():
            self.zip.writestr(name, text)
        about = [_xlsx_row([doc.title])]
        for heading, paragraphs in doc.sections:
            about += ["<row/>", _xlsx_row([heading])] + [_xlsx_row([p]) for p in paragraphs]
        self.zip.writestr("xl/worksheets/sheet1.xml", _SHEET_HEAD + "".join(about) + _SHEET_TAIL)
        self.raw = self.zip.open("xl/worksheets/sheet2.xml", "w", force_zip64=True)
        self.buf = [_SHEET_HEAD, _xlsx_row([label for _, label in doc.columns])]
        self.keys = [k for k, _ in doc.columns]

    def row(self, r: dict) -> None:
        self.buf.append(_xlsx_row([_cell(r.get(k)) for k in self.keys]))
        if len(self.buf) >= 500:
            self._flush()

    def _flush(self) -> None:
        self.raw.write("".join(self.buf).encode("utf-8"))
        self.buf = []

    def close(self) -> None:
        self.buf.append(_SHEET_TAIL)
        self._flush()
        self.raw.close()
        self.zip.close()


def _font_files() -> tuple[str, str]:
    """Roboto (Apache 2.0, with Cyrillic) from the font-roboto package on PyPI."""
    return font_roboto.font_files["Roboto"], font_roboto.font_files["RobotoBold"]


class _Pdf:
    def __init__(self, path: str, doc: Document):
        regular, bold = _font_files()
        self.pdf = pdf.Writer(path, regular, bold, title=doc.title)
        self._text = self.pdf.text
        self._text(doc.title, 15, bold=True)
        for heading, paragraphs in doc.sections:
            self._text(heading, 12, bold=True, before=3)
            for p in paragraphs:
                self._text(p, 10)
        if doc.rows_title:  # a document of sections only (the consultation pack) has no table
            self._text(doc.rows_title, 12, bold=True, before=3)
        self.columns = doc.columns

    def row(self, r: dict) -> None:
        k0 = self.columns[0][0]
        head = " · ".join(_cell(r.get(k)) for k, _ in self.columns[:4] if r.get(k) not in (None, ""))
        self._text(head, 9, bold=True, before=1.5)
        for key, label in self.columns[4:]:
            value = _cell(r.get(key))
            if value and key not in (k0, "comment_id"):
                self._text(value if key == "body" else f"{label}: {value}", 9)

    def close(self) -> None:
        self.pdf.close()


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
