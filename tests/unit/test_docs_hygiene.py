"""The repository reads on its own: code, comments and tests cite clauses (R-3.10), standards and docs/
pages, never tracker numbers ("issue 8", "item 5") nor a design document outside the checkout; README.md
and docs/ point only inside the repository, and every relative link in them resolves.

Needs neither RabbitMQ nor PostgreSQL, and no fixture from conftest.py.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", "docs"}
TEXT_SUFFIXES = {".py", ".yaml", ".yml", ".conf", ".html", ".j2", ".mako", ".sh", ".toml", ".txt", ".css",
                 ".example", ".json"}
TEXT_NAMES = {"Makefile", "Dockerfile", "Containerfile", "Procfile", "run"}
# "item 1.13" is a clause of the regulation and stays; "item 5" of a tracker does not
TRACKER = re.compile(r"\b[Ii]ssue\s+#?\d+\b|\b[Ii]tem\s+\d+\b(?![.\d])")
HISTORY = re.compile(r"\b(?:this branch|before this change|after this change|used to (?:be|count|read|run|take))\b")
OUTSIDE = re.compile(r"\bDESIGN\b|REQUIREMENTS\.md|\.\./shared\b")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def code_files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if rel.parts and rel.parts[0] in SKIP_DIRS or any(part in SKIP_DIRS for part in rel.parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            found.append(path)
    return found


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def offending(paths: list[Path], pattern: re.Pattern[str]) -> list[str]:
    hits = []
    for path in paths:
        if path == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    return hits


def test_the_scan_sees_the_code():
    names = {str(path.relative_to(ROOT)) for path in code_files()}
    assert {"chassis/settings.py", "Makefile", "tests/unit/test_docs_hygiene.py"} <= names


def test_code_comments_and_tests_cite_no_tracker_numbers():
    hits = offending(code_files(), TRACKER)
    assert not hits, "say what the code does (cite the clause, R-x.y), not which issue asked for it:\n" + "\n".join(hits)


def test_code_comments_describe_the_code_not_its_history():
    hits = offending(code_files(), HISTORY)
    assert not hits, "say what the code does, not what it did before or on which branch:\n" + "\n".join(hits)


def test_nothing_points_at_documents_outside_the_repository():
    hits = offending(code_files() + doc_files(), OUTSIDE)
    assert not hits, "point at docs/ (or state the rule) instead of a document the repository lacks:\n" + "\n".join(hits)


def anchors(page: Path) -> set[str]:
    """The ids GitHub gives the page's headings: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", page.read_text(encoding="utf-8"), re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return found


def test_every_relative_link_in_the_readme_and_docs_resolves():
    broken = []
    for doc in doc_files():
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # an address outside, or an anchor in the same page
            path, _, anchor = target.partition("#")
            page = doc.parent / path
            if not page.exists():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
            elif anchor and page.suffix == ".md" and anchor not in anchors(page):
                broken.append(f"{doc.relative_to(ROOT)} -> {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


CAPABILITY_PAGES = ("consultations", "moderation", "identity", "notifications", "reports", "web", "hardening",
                    "observability", "webhooks", "events", "operations", "kubernetes", "scaling")


def test_each_capability_page_lists_its_clauses_and_every_clause_has_a_page():
    clauses = set(re.findall(r"^### (R-\d+\.\d+)\b", (ROOT / "docs" / "requirements.md").read_text(encoding="utf-8"), re.M))
    listed: set[str] = set()
    for name in CAPABILITY_PAGES:
        text = (ROOT / "docs" / f"{name}.md").read_text(encoding="utf-8")
        line = re.search(r"^\*\*Clauses[:*].*$", text, re.M)
        assert line, f"docs/{name}.md: say under the title which clauses it serves (a '**Clauses**' line)"
        listed |= set(re.findall(r"R-\d+\.\d+", line.group(0)))
    unplaced = {"R-1.8"}  # work with the media: people, not code
    assert clauses - listed <= unplaced, f"clauses on no capability page: {sorted(clauses - listed - unplaced)}"
