"""The released event catalogue and the compatibility rule (docs/events.md).

``docs/events-released.json`` holds the JSON Schema of every event version as last released. A
change to a released version must be compatible for consumers: every released field stays, with
the same type, format, enum values (more may be added) and required-ness; a new field is optional.
Anything else (rename, removal, a changed type, a new required field) needs a new version, published
beside the old one for the deprecation window.

``python -m chassis.event_versions --release`` writes the file from the code (on a release);
``python -m chassis.event_versions --check`` exits 1 listing every incompatible change.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chassis.events import VERSIONS
from chassis.settings import SERVICES

RELEASED = Path(__file__).resolve().parent.parent / "docs" / "events-released.json"
KEPT = ("type", "format", "$ref", "const", "items", "anyOf", "additionalProperties")


def current() -> dict[str, dict]:
    """``"<source>.<type>@v<N>"`` → that version's data schema, for every registered version."""
    from chassis.asyncapi import load_all_events

    load_all_events()
    return {f"{s}.{t}@v{v}": model.model_json_schema(mode="serialization")
            for (s, t, v), model in sorted(VERSIONS.items()) if s in SERVICES}


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        return root.get("$defs", {}).get(ref.rsplit("/", 1)[1], {})
    return schema


def _shape(prop: dict, root: dict) -> dict:
    """What of a property's schema a consumer relies on (descriptions and defaults may change)."""
    prop = _resolve(prop, root)
    out = {k: prop[k] for k in KEPT if k in prop and k != "$ref"}
    if "anyOf" in out:
        out["anyOf"] = [_shape(p, root) for p in out["anyOf"]]
    if "items" in out:
        out["items"] = _shape(out["items"], root)
    if "properties" in prop:
        out["properties"] = {k: _shape(v, root) for k, v in prop["properties"].items()}
        out["required"] = sorted(prop.get("required", []))
    return out


def problems(old: dict, new: dict, name: str = "") -> list[str]:
    """Why ``new`` cannot replace ``old`` under the same version (empty: compatible)."""
    found = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for field, prop in old_props.items():
        if field not in new_props:
            found.append(f"{name}: field {field!r} removed or renamed")
            continue
        before, after = _resolve(prop, old), _resolve(new_props[field], new)
        if "enum" in before and not set(before["enum"]) <= set(after.get("enum", before["enum"])):
            found.append(f"{name}: field {field!r} lost enum values "
                         f"{sorted(set(before['enum']) - set(after.get('enum', [])))}")
        if _shape(prop, old) != _shape(new_props[field], new):
            found.append(f"{name}: field {field!r} changed type: {_shape(prop, old)} → {_shape(new_props[field], new)}")
    for field in set(old.get("required", [])) - set(new.get("required", [])):
        if field in new_props:
            found.append(f"{name}: field {field!r} is no longer always present")
    for field in set(new.get("required", [])) - set(old.get("required", [])) - set(old_props):
        found.append(f"{name}: new field {field!r} is required (a new field must be optional)")
    return found


def check(released: dict[str, dict], now: dict[str, dict]) -> list[str]:
    found = []
    for name, old in sorted(released.items()):
        if name not in now:
            found.append(f"{name}: a released version is gone (keep it for its deprecation window, then "
                         "remove it from docs/events-released.json with a changelog entry)")
            continue
        found += problems(old, now[name], name)
    return found


def load_released(path: Path = RELEASED) -> dict[str, dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chassis.event_versions", description=__doc__.splitlines()[0])
    parser.add_argument("--release", action="store_true", help="write docs/events-released.json from the code")
    parser.add_argument("--check", action="store_true", help="exit 1 on an incompatible change")
    args = parser.parse_args(argv)
    if args.release:
        bad = check(load_released(), current()) if RELEASED.exists() else []
        if bad:
            sys.exit("refusing to release incompatible changes:\n" + "\n".join(bad))
        RELEASED.write_text(json.dumps(current(), ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                            encoding="utf-8")
        return
    bad = check(load_released(), current())
    if bad:
        sys.exit("\n".join(bad))


if __name__ == "__main__":
    main()
