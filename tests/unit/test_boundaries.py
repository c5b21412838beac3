"""The layers of the code base, checked on every import statement (docs/architecture.md).

    chassis  <-  contracts  <-  services/<name>      (each service on its own)
                           <-  gateway, bench, deploy

* a service never imports another service's package: it reaches it through ``contracts/<name>.py``
  (events, RPC models, the typed client);
* the gateway, ``bench/`` and ``deploy/`` import only ``contracts`` and ``chassis`` of ours;
* ``chassis`` imports neither a service nor ``contracts`` (it is the layer below them);
* ``contracts`` import only ``chassis``, and no framework (nameko, eventlet, flask, sqlalchemy);
* a service's ``rules.py`` (pure rules) imports no framework either;
* ``chassis/errors.py`` (raised by rules) does not import nameko.

Every absolute ``import``, ``from … import`` and ``importlib.import_module("literal")`` counts, at the
top of a module or inside a function (the code base uses no relative imports).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"chassis", "contracts", "services", "gateway", "bench", "deploy", "tests"}
FRAMEWORKS = {"nameko", "eventlet", "flask", "sqlalchemy"}
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())

# Known exceptions, each named exactly (file, imported module) with the reason; a new import of the
# same kind elsewhere fails. None today: keep it that way.
KNOWN: dict[tuple[str, str], str] = {}
# bench/ starts its systems with chassis.testing, as the tests do
BENCH_MAY_IMPORT_TESTS = False


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in ``path``; ``from a import b`` yields ``a.b`` (``b`` may be a
    module of package ``a`` or a name in module ``a``: the checks compare by prefix)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module if alias.name == "*" else f"{node.module}.{alias.name}")
                      for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def python_files(folder: str):
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def top(module: str) -> str:
    return module.split(".")[0]


def is_known(path: Path, module: str) -> bool:
    name = rel(path)
    return any(name == f and (module == m or module.startswith(m + ".")) for f, m in KNOWN)


def violations(folder: str, bad) -> list[str]:
    """``bad(path, module)`` returns why an import is wrong, or None."""
    out = []
    for path in python_files(folder):
        seen = set()
        for line, module in imports_of(path):
            why = bad(path, module)
            if why and not is_known(path, module) and (line, why) not in seen:
                seen.add((line, why))
                out.append(f"{rel(path)}:{line} imports {module}: {why}")
    return out


def report(found: list[str]) -> str:
    return "\n  " + "\n  ".join(found) + "\n(docs/architecture.md: the layers and where a shared thing belongs)"


def test_no_service_imports_another_services_package():
    def bad(path: Path, module: str):
        own = path.relative_to(ROOT).parts[1] if len(path.relative_to(ROOT).parts) > 2 else None
        parts = module.split(".")
        if parts[0] != "services" or len(parts) < 2 or parts[1] not in SERVICES:
            return None
        if parts[1] != own:
            return (f"a service reaches {parts[1]} only through contracts/{parts[1]}.py (events, RPC "
                    f"models, its typed client); a shared rule belongs in contracts/ or chassis/")
        return None

    found = violations("services", bad)
    assert not found, "services import each other's packages:" + report(found)


@pytest.mark.parametrize("folder", ["gateway", "bench", "deploy"])
def test_gateway_bench_and_deploy_import_only_contracts_and_chassis(folder):
    def bad(path: Path, module: str):
        first = top(module)
        if first not in OURS or first in {"chassis", "contracts", folder}:
            return None
        if first == "tests" and folder == "bench" and BENCH_MAY_IMPORT_TESTS:
            return None
        return f"{folder}/ may use only contracts/ and chassis/ of ours (a service's public face is its contract)"

    found = violations(folder, bad)
    assert not found, f"{folder}/ reaches past the contracts:" + report(found)


def test_chassis_imports_no_service_and_no_contracts():
    def bad(path: Path, module: str):
        if top(module) in OURS - {"chassis"}:
            return "chassis/ is the layer below contracts and services: it finds them through chassis.app"
        return None

    found = violations("chassis", bad)
    assert not found, "chassis/ depends on a layer above it:" + report(found)


def test_contracts_import_only_chassis_and_no_framework():
    def bad(path: Path, module: str):
        if top(module) in OURS - {"chassis", "contracts"}:
            return "a contract is what others import: it may build on chassis/ only"
        if top(module) in FRAMEWORKS:
            return f"a contract is plain pydantic; {top(module)} belongs to a service or the gateway"
        return None

    found = violations("contracts", bad)
    assert not found, "contracts/ import more than chassis and pydantic:" + report(found)


def test_rules_modules_import_no_framework():
    rules = [p for p in python_files("services") if p.stem == "rules" or "rules" in p.parent.name.split(".")]
    assert rules, "no services/*/rules.py found"
    found = []
    for path in rules:
        found += [f"{rel(path)}:{line} imports {module}: rules are pure functions, testable without a "
                  f"broker, a web app or a database" for line, module in imports_of(path)
                  if top(module) in FRAMEWORKS and not is_known(path, module)]
    assert not found, "rules modules depend on a framework:" + report(sorted(set(found)))


def test_chassis_errors_do_not_import_nameko():
    found = [f"chassis/errors.py:{line} imports {module}: rules raise these errors, and rules import no nameko"
             for line, module in imports_of(ROOT / "chassis" / "errors.py")
             if top(module) == "nameko" and not is_known(ROOT / "chassis" / "errors.py", module)]
    assert not found, "chassis/errors.py imports nameko:" + report(found)


def test_the_walker_sees_every_form_of_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import importlib\nfrom services.moderation.schemas import X\n"
                      "def f():\n    import flask\n    return importlib.import_module('services.reports')\n")
    found = {m for _, m in imports_of(module)}
    assert {"services.moderation.schemas.X", "flask", "services.reports"} <= found
