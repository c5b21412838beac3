"""Seed persons for dev login (the demo set of `make demo`), written through this service's own
handlers into its database; it needs no running system.

    python -m services.registry.seed < people.json  ->  {subject: Principal} as JSON on stdout

Input: a JSON list of ``contracts.registry.DevLoginIn``. Running it again changes nothing (the
identities are upserted by subject).
"""
from __future__ import annotations

import json
import sys

from pydantic import TypeAdapter

from chassis.db import Db, make_engine
from chassis.log import configure_logging
from contracts.registry import DevLoginIn
from services.registry import handlers
from services.registry.store import Store


def main() -> None:
    configure_logging("registry-seed")
    people = TypeAdapter(list[DevLoginIn]).validate_json(sys.stdin.read())
    out = {}
    with Db(make_engine("registry")).transaction() as s:
        store = Store(s)
        for person in people:
            ref = handlers.dev_person(store, person)
            out[person.subject] = handlers.principal(store, ref.id).model_dump(mode="json")
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
