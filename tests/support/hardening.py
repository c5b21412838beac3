"""The OpenAPI document as the hardening tests read it: concrete paths, request bodies, and a fresh
client address per test (behind a trusted proxy)."""
from __future__ import annotations

import re
import uuid

import requests


def openapi(base: str) -> dict:
    return requests.get(base + "/openapi.json", timeout=10).json()


def concrete(path: str) -> str:
    path = re.sub(r"{(year)}", "2026", path)
    path = re.sub(r"{(a|b)}", "1", path)
    return re.sub(r"{\w+}", lambda _m: str(uuid.uuid4()), path)


def body_models(doc: dict) -> list[tuple[str, str, str, set[str]]]:
    """(method, path, model name, its fields) for every JSON request body of the document."""
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if schema:
                name = schema["$ref"].rsplit("/", 1)[1]
                out.append((method.upper(), path, name, set(doc["components"]["schemas"][name].get("properties", {}))))
    return out


def address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
