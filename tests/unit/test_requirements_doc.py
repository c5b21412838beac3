"""docs/requirements.md covers every clause the tests cite and names only test files that exist.

Needs neither RabbitMQ nor PostgreSQL, and no fixture from conftest.py.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "requirements.md"
CLAUSE = re.compile(r"R-\d+\.\d+")
SECTION = re.compile(r"^### (R-\d+\.\d+)\b", re.M)
TEST_FILE = re.compile(r"tests/[\w/]+\.py")
RANGE = re.compile(r"R-\d+\.\d+\s*(?:[–—]|-{1,2}|\.\.)\s*R?-?\d+\.\d+")


def cited_in_tests() -> dict[str, set[str]]:
    """Clause id -> the test files citing it."""
    cited: dict[str, set[str]] = {}
    for path in (ROOT / "tests").rglob("*.py"):
        for clause in CLAUSE.findall(path.read_text(encoding="utf-8")):
            cited.setdefault(clause, set()).add(str(path.relative_to(ROOT)))
    return cited


def test_the_tests_cite_clauses_at_all():
    assert len(cited_in_tests()) >= 10, "the clause pattern no longer finds the clauses the tests cite"


def test_every_clause_cited_by_a_test_has_its_section():
    sections = set(SECTION.findall(DOC.read_text(encoding="utf-8")))
    missing = {clause: sorted(files) for clause, files in cited_in_tests().items() if clause not in sections}
    assert not missing, f"docs/requirements.md has no '### <clause>' section for: {missing}"


def test_each_clause_has_one_section():
    sections = SECTION.findall(DOC.read_text(encoding="utf-8"))
    assert len(sections) == len(set(sections)), "a clause has two sections"


def test_every_test_file_named_exists():
    named = set(TEST_FILE.findall(DOC.read_text(encoding="utf-8")))
    assert named, "the document names no test file"
    gone = sorted(name for name in named if not (ROOT / name).is_file())
    assert not gone, f"docs/requirements.md names test files that do not exist: {gone}"


def test_clauses_are_named_one_by_one_never_as_ranges():
    ranges = RANGE.findall(DOC.read_text(encoding="utf-8"))
    assert not ranges, f"name each clause instead of: {ranges}"
