"""docs/settings.md is generated from chassis.settings.Settings and kept in sync.

Needs neither RabbitMQ nor PostgreSQL, and no fixture from conftest.py.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from chassis import settings_doc
from chassis.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "settings.md"


def test_document_on_disk_is_what_the_settings_generate():
    assert DOC.read_text(encoding="utf-8") == settings_doc.render(), "docs/settings.md is stale: run `make settings-doc`"


def test_check_mode_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "settings.md"
    stale.write_text("# Settings\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "chassis.settings_doc", "--check", str(stale)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "make settings-doc" in run.stderr
    fresh = tmp_path / "fresh.md"
    fresh.write_text(settings_doc.render(), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "chassis.settings_doc", "--check", str(fresh)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def test_every_setting_has_one_row_with_a_description():
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \|.*\| (.*) \|$", settings_doc.render(), flags=re.M)
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert set(Settings.model_fields) <= {name.lower() for name in names}
    missing = [name for name, meaning in rows if meaning == settings_doc.MISSING]
    assert not missing, f"give these settings a description= in chassis/settings.py: {missing}"


class Sample(BaseSettings):
    plain: int = 3

    # ---- mail sending (RFC 5321): the outgoing server ----
    sample_smtp_host: str = Field("", description="the | server")
    sample_limit: float = Field(1.5, ge=0, le=10, description="a bound")

    # surveys (issue: Surveys)
    sample_flag: bool = Field(True, description="on or off")


def test_a_new_setting_lands_under_its_comment_with_type_default_and_bounds():
    doc = settings_doc.render(Sample)
    sections = {block.split("\n", 1)[0]: block for block in doc.split("\n## ")[1:]}
    assert "`PLAIN` | `int` | `3` | (no description yet)" in sections[settings_doc.FIRST_GROUP]
    mail = sections["Mail sending (RFC 5321): the outgoing server"]
    assert "| `SAMPLE_SMTP_HOST` | `str` | empty | the \\| server |" in mail
    assert "| `SAMPLE_LIMIT` | `float` (≥ 0, ≤ 10) | `1.5` | a bound |" in mail
    assert "| `SAMPLE_FLAG` | `bool` | `true` | on or off |" in sections["Surveys"]


def test_variables_listed_outside_settings_are_still_read_by_the_code():
    sources = [path for folder in ("chassis", "services", "gateway", "deploy") for path in (ROOT / folder).rglob("*.py")
               if path.name != "settings_doc.py"] + [ROOT / "Makefile"]
    code = "\n".join(path.read_text(encoding="utf-8") for path in sources)
    for name, _, _ in settings_doc.OUTSIDE_SETTINGS:
        assert name.lower() not in Settings.model_fields, f"{name} is a setting now: drop it from OUTSIDE_SETTINGS"
        assert re.search(rf"['\"$]{{?{name}\b", code), f"nothing reads {name} any more: drop it from OUTSIDE_SETTINGS"
