"""Routes declared with their pydantic models, which both validate requests and generate the
OpenAPI 3.1 document served at ``/openapi.json`` (one source of truth).

    api = spec.blueprint("api", "/api/v1")

    @api.route("/things/<uuid:thing_id>", "PATCH", summary="…", body=ThingPatch, response=Thing)
    def patch_thing(thing_id, body: ThingPatch) -> Thing: ...

A view returns a pydantic model (200 or ``status``), a ``(model, status)`` pair, or a Flask
``Response``. Request models forbid unknown fields, so clients cannot mass-assign.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Response, json, request
from pydantic import BaseModel, ValidationError

from gateway.problems import TITLES, Problem, RequestInvalid

REF = "#/components/schemas/{model}"
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_PARAM_SCHEMA = {"int": {"type": "integer"}, "uuid": {"type": "string", "format": "uuid"},
                 "string": {"type": "string"}, None: {"type": "string"}}


@dataclass
class Operation:
    rule: str
    method: str
    summary: str
    response: type[BaseModel] | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    status: int
    tags: list[str]
    errors: tuple[int, ...]
    content_type: str = "application/json"
    description: str = ""
    auth: str | tuple = "public"  # "public" | "login" | "consent" | a tuple of roles


@dataclass
class ApiSpec:
    title: str
    version: str
    description: str = ""
    operations: list[Operation] = field(default_factory=list)
    dev_login: bool = False
    # Flask rule -> the API-key scope that may read it (partners' keys, gateway.api_keys)
    key_scopes: dict[str, str] = field(default_factory=dict)

    def blueprint(self, name: str, url_prefix: str = "") -> "DocumentedBlueprint":
        return DocumentedBlueprint(self, name, url_prefix)

    def document(self) -> dict:
        schemas: dict[str, Any] = {}
        paths: dict[str, dict] = {}

        def ref(model: type[BaseModel], mode: str) -> dict:
            schema = model.model_json_schema(ref_template=REF, mode=mode)
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
            return {"$ref": REF.format(model=model.__name__)}

        problem_ref = ref(Problem, "serialization")
        for op in self.operations:
            path = _CONVERTER.sub(lambda m: "{%s}" % m.group(2), op.rule)
            params = [{"name": m.group(2), "in": "path", "required": True,
                       "schema": _PARAM_SCHEMA.get(m.group(1), {"type": "string"})}
                      for m in _CONVERTER.finditer(op.rule)]
            if op.query is not None:
                qschema = op.query.model_json_schema(ref_template=REF)
                for pname, pschema in qschema.get("properties", {}).items():
                    params.append({"name": pname, "in": "query", "schema": pschema,
                                   "required": pname in qschema.get("required", [])})
            responses: dict[str, Any] = {}
            if op.response is not None:
                responses[str(op.status)] = {"description": "OK", "content": {
                    op.content_type: {"schema": ref(op.response, "serialization")}}}
            elif op.content_type not in ("application/json", "application/octet-stream"):  # a file of a known type
                responses[str(op.status)] = {"description": "OK", "content": {
                    op.content_type: {"schema": {"type": "string", "format": "binary"}}}}
            else:
                responses[str(op.status)] = {"description": "OK"}
            # a path parameter that names nothing, or is not of its type, is 404 wherever it is
            implied = ({422} if op.body or op.query else set()) | ({404} if params and _CONVERTER.search(op.rule) else set())
            for status in sorted(set(op.errors) | implied):
                responses[str(status)] = {"description": TITLES.get(status, "Помилка"),
                                          "content": {"application/problem+json": {"schema": problem_ref}}}
            entry: dict[str, Any] = {"summary": op.summary, "operationId": _operation_id(op),
                                     "tags": op.tags, "responses": responses,
                                     "x-auth": list(op.auth) if isinstance(op.auth, tuple) else op.auth}
            scope = self.key_scopes.get(op.rule) if op.method in ("GET", "HEAD") else None
            if scope:
                # a key with the scope, or (public routes) nobody at all, or (others) a session
                entry["security"] = [{"apiKey": [scope]},
                                     *([{}] if op.auth == "public" else [{"bearer": []}, {"cookie": []}])]
                entry["x-api-key-scope"] = scope
                for status in (401, 403, 429):
                    responses.setdefault(str(status), {
                        "description": TITLES[status],
                        "content": {"application/problem+json": {"schema": problem_ref}}})
            elif op.auth != "public":
                entry["security"] = [{"bearer": []}, {"cookie": []}]
            if op.auth != "public":
                for status in (401, 403):
                    responses.setdefault(str(status), {
                        "description": TITLES[status],
                        "content": {"application/problem+json": {"schema": problem_ref}}})
            if op.description:
                entry["description"] = op.description
            if params:
                entry["parameters"] = params
            if op.body is not None:
                entry["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": ref(op.body, "validation")}}}
            paths.setdefault(path, {})[op.method.lower()] = entry
        return {"openapi": "3.1.0",
                "info": {"title": self.title, "version": self.version, "description": self.description},
                "paths": dict(sorted(paths.items())),
                "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer",
                               "description": "token from /api/v1/auth/callback or dev-login"},
                    "cookie": {"type": "apiKey", "in": "cookie", "name": "econsult_session",
                               "description": "browsers; unsafe methods also need X-CSRF-Token"},
                    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": API_KEY_HELP}}}}


API_KEY_HELP = (
    "A partner system's API key (`ek_…`), issued by an administrator to a named partner with read scopes "
    "(`events:read`, `consultations:read`, `open-data:read`), a rate limit per minute and an expiry; shown "
    "once, stored hashed, revocable; also accepted as `Authorization: Bearer ek_…`. Each operation that accepts a key names its scope in its security "
    "requirement and in `x-api-key-scope`; on any other route or method a key is refused (403). Unknown, "
    "revoked or expired: 401; over the key's rate: 429 with Retry-After.")


def _operation_id(op: Operation) -> str:
    words = re.sub(r"[^a-zA-Z0-9]+", "_", op.rule.replace("<", "").replace(">", "")).strip("_")
    return f"{op.method.lower()}_{words or 'root'}"


class DocumentedBlueprint(Blueprint):
    def __init__(self, spec: ApiSpec, name: str, url_prefix: str):
        super().__init__(name, __name__, url_prefix=url_prefix or None)
        self.spec, self.prefix = spec, url_prefix

    def route(self, rule: str, method: str = "GET", *, summary: str,  # type: ignore[override]
              response: type[BaseModel] | None = None, body: type[BaseModel] | None = None,
              query: type[BaseModel] | None = None, status: int = 200, tags: list[str] | None = None,
              errors: tuple[int, ...] = (), content_type: str = "application/json",
              description: str = "", auth: str | tuple = "public") -> Callable:
        op = Operation(self.prefix + rule, method.upper(), summary, response, body, query, status,
                       tags or [self.name], errors, content_type, description, auth)
        self.spec.operations.append(op)

        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def endpoint(**path_args):
                _authorise(op.auth)
                kwargs = dict(path_args)
                if body is not None:
                    kwargs["body"] = _parse_body(body)
                if query is not None:
                    kwargs["query"] = _parse(query, request.args.to_dict(), "query")
                return _render(view(**kwargs), status)

            self.add_url_rule(rule, view.__name__, endpoint, methods=[op.method])
            return view

        return decorator


def _authorise(auth: str | tuple) -> None:
    from gateway import api_keys, auth as gate

    if auth == "public" or api_keys.partner() is not None:  # a key checked for this route's scope
        return
    if auth == "login":
        gate.require_login()
    elif auth == "consent":
        gate.require_consent()
    else:
        gate.require_role(*auth)


_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")  # NUL (PostgreSQL text refuses it), lone surrogates


def _storable(data: Any, path: str) -> None:
    """Text no database or UTF-8 encoder can take is refused here, naming the field (found by fuzzing)."""
    if isinstance(data, str):
        if _UNSTORABLE.search(data):
            raise RequestInvalid(path, message="недопустимий символ (NUL або непарний сурогат)")
    elif isinstance(data, dict):
        for key, value in data.items():
            _storable(key, path)
            _storable(value, f"{path}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _storable(value, f"{path}.{i}")


def _parse(model: type[BaseModel], data: Any, location: str) -> BaseModel:
    _storable(data, location)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestInvalid(location, exc) from None


MAX_JSON_DEPTH = 32  # the deepest request model nests 4 levels; Python's parser recurses per level
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays and objects in ``raw`` (strings skipped), in linear time and
    without recursion, so ``[`` × 100,000 is measured, not parsed."""
    depth = deepest = 0
    for byte in _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET):
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise RequestInvalid("body", message="очікується JSON (Content-Type: application/json)")
    if json_depth(request.get_data(cache=True)) > MAX_JSON_DEPTH:
        raise RequestInvalid("body", message=f"JSON вкладений глибше за {MAX_JSON_DEPTH} рівні")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    if not isinstance(data, dict):
        raise RequestInvalid("body", message="очікується JSON-об'єкт")
    return _parse(model, data, "body")


def _render(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        result, status = result
    payload = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json")
