"""docs/requirements.md covers every clause the tests cite, names only tests that exist, and each test it
names for a clause carries that clause in its name or docstring (so `grep -rn "R-3.10" tests` lists
them); clauses are written one by one, never as ranges, in the docs, the code and the tests.

Needs neither RabbitMQ nor PostgreSQL, and no fixture from conftest.py.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "requirements.md"
CLAUSE = re.compile(r"R-\d+\.\d+")
SECTION = re.compile(r"^### (R-\d+\.\d+)\b", re.M)
TEST_FILE = re.compile(r"tests/[\w/]+\.py")
TESTS_OF_CLAUSE = re.compile(r"^- \*\*Tests:\*\*(.*?)(?=^- \*\*|^#|\Z)", re.M | re.S)
TEST_REF = re.compile(r"(tests/[\w/]+\.py)::(\w+)")
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


def sections() -> dict[str, str]:
    """Clause id -> the text of its section."""
    parts = re.split(r"^### ", DOC.read_text(encoding="utf-8"), flags=re.M)[1:]
    return {part.split()[0]: part for part in parts}


def functions_of(path: Path) -> dict[str, str]:
    """Test name -> its name and docstring, for every function of a test file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: node.name + " " + (ast.get_docstring(node) or "")
            for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_each_test_named_for_a_clause_exists_and_carries_the_clause():
    wrong = []
    for clause, text in sections().items():
        for block in TESTS_OF_CLAUSE.findall(text):
            for file, name in TEST_REF.findall(block):
                path = ROOT / file
                found = functions_of(path).get(name) if path.is_file() else None
                if found is None:
                    wrong.append(f"{clause}: {file}::{name} does not exist")
                elif clause not in found:
                    wrong.append(f"{clause}: {file}::{name} has not {clause} in its name or docstring")
    assert not wrong, "\n".join(wrong)


def test_no_clause_ranges_in_docs_code_or_tests():
    found = []
    for folder in ("docs", "tests", "services", "gateway", "chassis", "contracts", "deploy", "bench"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".md", ".html", ".j2", ".yaml", ".txt"} and path.is_file():
                for match in RANGE.findall(path.read_text(encoding="utf-8", errors="replace")):
                    found.append(f"{path.relative_to(ROOT)}: {match}")
    found += [f"README.md: {m}" for m in RANGE.findall((ROOT / "README.md").read_text(encoding="utf-8"))]
    assert not found, "name each clause instead of: " + "; ".join(found)
