"""The inside of a service, checked on its syntax tree (docs/architecture.md):

* ``service.py`` (and a ``*_service.py`` mixed into it) holds entry points only: no SQL, no
  SQLAlchemy import, and no transaction opened by hand (its methods call handlers with ``self.uow``);
* SQL lives in ``store.py`` (a ``*_service.py`` may have its own ``*_store.py``; tables in
  ``models.py``/``*_models.py``, schema changes in ``migrations/``): no other module of a service
  imports SQLAlchemy;
* ``rules.py`` imports no framework (``tests/unit/test_boundaries.py``);
* an event is claimed under a key derived from the handler (``chassis.consumer.once_per_event`` or
  ``handler_key(service, method)``), never under a key typed by hand, which a renamed method would
  silently keep or lose.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQL_FUNCTIONS = {"select", "insert", "update", "delete", "text"}
SQL_METHODS = {"execute", "where", "on_conflict_do_nothing", "on_conflict_do_update"}
TRANSACTIONS = {"transaction", "reading"}
SQL_HOMES = {"store.py", "models.py"}

# Known exceptions, each a file with its reason and, where counted, how many are left (an upper
# bound: a new one fails); lower or remove a line when its file is converted.
KNOWN_SQL_OUTSIDE_STORE: dict[str, str] = {}
KNOWN_TRANSACTIONS_IN_SERVICE: dict[str, int] = {}
KNOWN_HAND_TYPED_KEYS: dict[str, int] = {}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def service_files(pattern: str = "*.py"):
    for path in sorted((ROOT / "services").rglob(pattern)):
        if "__pycache__" not in path.parts and "migrations" not in path.parts:
            yield path


def entrypoint_modules():
    return [p for p in service_files() if p.name == "service.py" or p.name.endswith("_service.py")]


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def imports_sqlalchemy(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "sqlalchemy" for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            lines.append(node.lineno)
    return lines


def sql_in(tree: ast.AST) -> list[str]:
    found = []
    for node in calls(tree):
        if isinstance(node.func, ast.Name) and node.func.id in SQL_FUNCTIONS:
            found.append(f"{node.lineno}: {node.func.id}(")
        elif isinstance(node.func, ast.Attribute) and node.func.attr in SQL_METHODS:
            found.append(f"{node.lineno}: .{node.func.attr}(")
    return found + [f"{line}: imports sqlalchemy" for line in imports_sqlalchemy(tree)]


def transactions_opened(tree: ast.AST) -> list[int]:
    """``….db.transaction()`` / ``….db.reading()`` (a unit of work's ``uow.transaction()`` is the handlers')."""
    return [node.lineno for node in calls(tree)
            if isinstance(node.func, ast.Attribute) and node.func.attr in TRANSACTIONS
            and called_name_of(node.func.value) == "db"]


def called_name_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def hand_typed_keys(tree: ast.AST) -> list[int]:
    """``claim_event(…)`` with a string literal or f-string among its arguments."""
    return sorted(node.lineno for node in calls(tree) if called_name(node) == "claim_event"
                  and any(isinstance(a, ast.JoinedStr) or (isinstance(a, ast.Constant) and isinstance(a.value, str))
                          for a in [*node.args, *(k.value for k in node.keywords)]))


def parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_entry_point_modules_hold_no_sql():
    found = [f"{rel(p)}:{hit}" for p in entrypoint_modules() for hit in sql_in(parse(p))]
    assert not found, ("service.py holds entry points only; SQL belongs in the service's store.py, "
                       "reached through a handler:\n  " + "\n  ".join(found))


def test_sql_lives_only_in_store_and_models():
    found = []
    for path in service_files():
        if (path.name in SQL_HOMES or path.name.endswith(("_models.py", "_store.py"))
                or rel(path) in KNOWN_SQL_OUTSIDE_STORE):
            continue
        found += [f"{rel(path)}:{line} imports sqlalchemy" for line in imports_sqlalchemy(parse(path))]
    assert not found, ("SQL belongs in the service's store.py (the logic in handlers, the rules in "
                       "rules.py):\n  " + "\n  ".join(found))


def test_entry_points_open_no_transaction_by_hand():
    found = []
    for path in entrypoint_modules():
        lines = transactions_opened(parse(path))
        if len(lines) > KNOWN_TRANSACTIONS_IN_SERVICE.get(rel(path), 0):
            found.append(f"{rel(path)}: db.transaction()/db.reading() at lines {lines} "
                         f"(known: {KNOWN_TRANSACTIONS_IN_SERVICE.get(rel(path), 0)})")
    assert not found, ("entry points call handlers with self.uow; the handler opens the unit of work:\n  "
                       + "\n  ".join(found))


def test_events_are_claimed_under_derived_keys():
    found = []
    for folder in ("services", "gateway", "bench", "deploy", "contracts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            lines = hand_typed_keys(parse(path))
            if len(lines) > KNOWN_HAND_TYPED_KEYS.get(rel(path), 0):
                found.append(f"{rel(path)}: claim_event with a typed key at lines {lines}")
    assert not found, ("claim events with @once_per_event or under handler_key(service, method):\n  "
                       + "\n  ".join(found))


def test_the_checks_see_what_they_look_for(tmp_path):
    module = tmp_path / "service.py"
    module.write_text("from sqlalchemy import select\n"
                      "def f(self, session, store, env):\n"
                      "    session.execute(select(1))\n"
                      "    with self.db.transaction() as s:\n"
                      "        claim_event(s, f'reports.{env}', env.event_id)\n"
                      "    store.claim_event('x.y', env.event_id)\n"
                      "    store.claim_event(handler_key('x', 'y'), env.event_id)\n"
                      "    {}.update(a=1)\n")
    tree = parse(module)
    assert sql_in(tree) == ["3: .execute(", "3: select(", "1: imports sqlalchemy"]
    assert transactions_opened(tree) == [4]
    assert hand_typed_keys(tree) == [5, 6]
