"""The gateway's request/response contract without any service: validation, problem+json,
OpenAPI generation, production safety (no broker or database needed)."""
from __future__ import annotations

import pytest
from flask import Flask
from pydantic import BaseModel, ConfigDict, Field

from chassis.errors import Conflict, NotFound
from chassis.settings import Settings
from gateway.app import create_app
from gateway.openapi import ApiSpec
from gateway.problems import register_error_handlers


class ThingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=3)
    size: int = Field(ge=1, le=10)


class Thing(BaseModel):
    id: int
    title: str


class Paging(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(1, ge=1)


@pytest.fixture()
def client():
    spec = ApiSpec("t", "1")
    bp = spec.blueprint("things", "/api/v1")

    @bp.route("/things/<int:thing_id>", "PUT", summary="replace", body=ThingIn, response=Thing, status=201,
              errors=(404, 409))
    def put_thing(thing_id: int, body: ThingIn):
        if thing_id == 404:
            raise NotFound("Немає такої речі")
        if thing_id == 409:
            raise Conflict("Вже змінено", code="stale")
        return Thing(id=thing_id, title=body.title), 201

    @bp.route("/things", summary="list", query=Paging, response=Thing)
    def list_things(query: Paging):
        return Thing(id=query.page, title="x")

    app = Flask(__name__)
    app.register_blueprint(bp)
    register_error_handlers(app)
    app.extensions["spec"] = spec
    return app.test_client()


def test_valid_body_is_parsed_and_the_model_rendered(client):
    r = client.put("/api/v1/things/7", json={"title": "Сквер", "size": 3})
    assert r.status_code == 201 and r.json == {"id": 7, "title": "Сквер"}


def test_unknown_field_is_refused_naming_it(client):
    r = client.put("/api/v1/things/7", json={"title": "Сквер", "size": 3, "status": "published"})
    assert r.status_code == 422
    assert r.content_type.startswith("application/problem+json")
    assert r.json["code"] == "invalid_input"
    assert [e["field"] for e in r.json["errors"]] == ["body.status"]


def test_each_bad_field_is_named(client):
    r = client.put("/api/v1/things/7", json={"title": "ab", "size": 99})
    assert sorted(e["field"] for e in r.json["errors"]) == ["body.size", "body.title"]


@pytest.mark.parametrize("kwargs", [{"data": "title=x", "content_type": "application/x-www-form-urlencoded"},
                                    {"data": "[1, 2]", "content_type": "application/json"},
                                    {"data": "{not json", "content_type": "application/json"}])
def test_non_object_bodies_are_refused(client, kwargs):
    r = client.put("/api/v1/things/7", **kwargs)
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "body"


def test_bad_query_parameter_is_named(client):
    r = client.get("/api/v1/things?page=0")
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "query.page"
    assert client.get("/api/v1/things?page=2").json == {"id": 2, "title": "x"}


def test_typed_service_errors_become_problems(client):
    r = client.put("/api/v1/things/404", json={"title": "Сквер", "size": 3})
    assert r.status_code == 404 and r.json["detail"] == "Немає такої речі"
    r = client.put("/api/v1/things/409", json={"title": "Сквер", "size": 3})
    assert r.status_code == 409 and r.json["code"] == "stale"


def test_openapi_document_describes_models_and_errors(client):
    doc = client.application.extensions["spec"].document()
    op = doc["paths"]["/api/v1/things/{thing_id}"]["put"]
    assert op["parameters"][0] == {"name": "thing_id", "in": "path", "required": True,
                                   "schema": {"type": "integer"}}
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ThingIn"
    assert set(op["responses"]) == {"201", "404", "409", "422"}
    assert doc["components"]["schemas"]["ThingIn"]["additionalProperties"] is False
    q = doc["paths"]["/api/v1/things"]["get"]["parameters"][0]
    assert q["name"] == "page" and q["in"] == "query"


def test_gateway_refuses_dev_login_in_production():
    """Clause R-2.3."""
    with pytest.raises(RuntimeError, match="AUTH_DEV_LOGIN"):
        create_app(Settings(app_env="production", auth_dev_login=True))


def test_every_gateway_route_is_in_the_openapi_document():
    app = create_app(Settings())
    documented = set(app.extensions["openapi"]["paths"])
    undocumented_ok = {"/openapi.json", "/docs", "/docs/init.js", "/docs/assets/{filename}", "/static/{filename}"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("web."):
            assert not rule.rule.startswith("/api/"), rule.rule  # web pages stay apart
            continue
        path = rule.rule.replace("<path:", "<").replace("<", "{").replace(">", "}")
        path = path.replace("{int:", "{").replace("{uuid:", "{")
        assert path in documented or path in undocumented_ok, f"{rule.rule} is not in /openapi.json"


def test_dev_login_is_absent_when_the_setting_is_off():
    app = create_app(Settings(auth_dev_login=False))
    assert "/api/v1/auth/dev-login" not in app.extensions["openapi"]["paths"]
    r = app.test_client().post("/api/v1/auth/dev-login", json={"subject": "x", "full_name": "x"})
    assert r.status_code == 404
    on = create_app(Settings(auth_dev_login=True))
    assert "/api/v1/auth/dev-login" in on.extensions["openapi"]["paths"]


def test_production_needs_a_real_secret():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Settings(app_env="production", auth_dev_login=False))
    create_app(Settings(app_env="production", auth_dev_login=False, secret_key="x" * 40))


def test_the_document_names_the_api_key_scheme_and_each_operation_a_key_may_read_with_its_scope():
    from gateway.api_keys import SCOPES

    doc = create_app(Settings()).extensions["openapi"]
    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-Api-Key")
    keyed = {(path, method): op for path, ops in doc["paths"].items() for method, op in ops.items()
             if any("apiKey" in alt for alt in op.get("security", []))}
    rules = {rule.replace("<uuid:", "{").replace("<", "{").replace(">", "}"): scope for rule, scope in SCOPES.items()}
    assert {path for path, _ in keyed} == {p for p in rules if p in doc["paths"]} and len(keyed) >= 7
    for (path, method), op in keyed.items():
        assert method == "get" and op["x-api-key-scope"] == rules[path]
        assert {"apiKey": [rules[path]]} in op["security"] and {"401", "403", "429"} <= set(op["responses"])
    feed = doc["paths"]["/api/v1/events"]["get"]
    assert feed["security"] == [{"apiKey": ["events:read"]}, {"bearer": []}, {"cookie": []}]  # no anonymous
    assert {p["name"] for p in feed["parameters"]} >= {"after", "types", "limit"}
    assert "Retry-After" in feed["description"] and "30 days" in feed["description"]
    assert {} in doc["paths"]["/api/v1/consultations"]["get"]["security"]  # public routes stay anonymous too
    writes = [op for ops in doc["paths"].values() for m, op in ops.items() if m != "get"]
    assert not any("apiKey" in alt for op in writes for alt in op.get("security", []))
