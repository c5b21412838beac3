"""`make test` hands the longest files to its workers first (tests/support/longest.py)."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from tests.support.longest import LONGEST_FIRST, ROOT, longest_first


def test_every_listed_file_exists():
    missing = [name for name in LONGEST_FIRST if not (ROOT / name).is_file()]
    assert not missing, f"listed in tests/support/longest.py but gone: {missing}"


def test_listed_files_come_first_in_the_lists_order_and_the_rest_keep_theirs():
    def item(name, test):
        return SimpleNamespace(path=ROOT / name, name=test)

    items = [item("tests/unit/test_a.py", "1"), item(LONGEST_FIRST[1], "x"), item("tests/unit/test_b.py", "2"),
             item(LONGEST_FIRST[0], "y"), item(LONGEST_FIRST[1], "z"), item("tests/unit/test_a.py", "3")]
    longest_first(items)
    assert [(i.path.relative_to(ROOT).as_posix(), i.name) for i in items] == [
        (LONGEST_FIRST[0], "y"), (LONGEST_FIRST[1], "x"), (LONGEST_FIRST[1], "z"),
        ("tests/unit/test_a.py", "1"), ("tests/unit/test_b.py", "2"), ("tests/unit/test_a.py", "3")]


def test_the_collection_make_test_hands_out_starts_with_the_longest_file():
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not drill", "-p", "no:cacheprovider"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    first = run.stdout.splitlines()[0]
    assert first.startswith(LONGEST_FIRST[0] + "::"), first
    assert "--no-loadscope-reorder" in (ROOT / "Makefile").read_text(encoding="utf-8")
