"""A small Ukrainian demo set for `make run` (skipped with DEMO=0): persons of every role for dev
login, a consultation of each form in different states, an initiative on moderation, plan entries.

Each service writes its part with its own command (``python -m services.registry.seed``, then
``python -m services.consultations.seed``), run here as subprocesses before the services start, so it
needs no running system and this module imports nothing of the services (docs/operations.md). Running
it again changes nothing.
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from chassis.workdays import local_today
from contracts.identity import Role
from contracts.registry import DevLoginIn

ROOT = Path(__file__).resolve().parents[1]

PEOPLE = {  # dev-login subjects: use them at POST /api/v1/auth/dev-login
    "demo-resident": DevLoginIn(subject="demo-resident", full_name="Шевчук Оксана Михайлівна",
                                birth_date=date(1988, 4, 12), roles=[Role.resident]),
    "demo-official": DevLoginIn(subject="demo-official", full_name="Бондаренко Ігор Васильович",
                                birth_date=date(1979, 9, 3), roles=[Role.official], unit="Управління транспорту"),
    "demo-moderator": DevLoginIn(subject="demo-moderator", full_name="Ткаченко Лариса Петрівна",
                                 birth_date=date(1984, 1, 20), roles=[Role.moderator]),
    "demo-admin": DevLoginIn(subject="demo-admin", full_name="Кравець Андрій Олегович",
                             birth_date=date(1975, 6, 30), roles=[Role.admin]),
    "demo-head": DevLoginIn(subject="demo-head", full_name="Мельник Галина Іванівна",
                            birth_date=date(1966, 11, 2), roles=[Role.institution_head]),
    "demo-teen": DevLoginIn(subject="demo-teen", full_name="Коваль Денис Андрійович",
                            birth_date=local_today() - timedelta(days=13 * 365 + 100), roles=[Role.resident]),
}



def seed(module: str, payload: str) -> str:
    """Run one service's seed command with ``payload`` on stdin; its stdout."""
    return subprocess.run([sys.executable, "-m", module], input=payload, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                          check=True).stdout


def main() -> None:
    people = json.dumps([p.model_dump(mode="json") for p in PEOPLE.values()], ensure_ascii=False)
    who = json.loads(seed("services.registry.seed", people))
    authors = {"official": who["demo-official"], "resident": who["demo-resident"]}
    out = seed("services.consultations.seed", json.dumps(authors, ensure_ascii=False)).strip()
    if out == "demo data loaded":
        out += ": dev-login subjects " + ", ".join(PEOPLE)
    print(out)


if __name__ == "__main__":
    main()
