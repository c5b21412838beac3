"""The personal cabinet, roles, the register query and the registry's events over the running
system (issue: Registry and identity)."""
from __future__ import annotations

import uuid

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

import chassis.rpcerrors  # noqa: F401  (typed errors deserialise to their classes)
from services.registry.models import persons
from tests.support.bus import Tap
from tests.support.api import Caller, dev_login, years_ago
from tests.support.samples import edrpou

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def people(system):
    base = system.base_url
    return {
        "resident": dev_login(base, ["resident"], full_name="Мешканка Ганна Іванівна"),
        "institution_head": dev_login(base, ["institution_head"], full_name="Голова Петро Петрович"),
        "official": dev_login(base, ["official"], unit="Управління економіки", full_name="Посадовець Ірина"),
        "moderator": dev_login(base, ["moderator"], full_name="Модератор Олег"),
        "admin": dev_login(base, ["admin"], full_name="Адміністратор Марія"),
        "anonymous": Caller(base),
    }


def test_a_13_year_old_is_registered_read_only_with_a_clear_reason(system):
    """Clause R-1.3."""
    kid = dev_login(system.base_url, full_name="Школяр Андрій", birth_date=years_ago(13))
    assert kid.get("/api/v1/me").json()["eligibility"] == {"eligible": False, "reasons": ["under_14"]}
    assert kid.get("/api/v1/categories").status_code == 200  # may read
    # the birthday boundary of: tests/registry/test_rules.py


# every registry endpoint × every role: the status the caller gets (2xx written as 200)
PUBLIC, LOGIN, ADMIN = "public", "login", "admin"
ENDPOINTS = [
    ("GET", "/api/v1/consent", PUBLIC), ("GET", "/api/v1/units", PUBLIC),
    ("GET", "/api/v1/organisations", PUBLIC), ("GET", "/api/v1/me", LOGIN),
    ("PUT", "/api/v1/me", LOGIN), ("GET", "/api/v1/me/export", LOGIN),
    ("POST", "/api/v1/me/consent", LOGIN), ("DELETE", "/api/v1/me", LOGIN),
    ("POST", "/api/v1/auth/logout", LOGIN), ("POST", "/api/v1/organisations", LOGIN),
    ("GET", "/api/v1/admin/persons/{other}", ADMIN), ("POST", "/api/v1/admin/persons/{other}/roles", ADMIN),
    ("DELETE", "/api/v1/admin/persons/{other}/roles/{role}", ADMIN),
    ("POST", "/api/v1/admin/units", ADMIN), ("GET", "/api/v1/admin/organisations", ADMIN),
    ("POST", "/api/v1/admin/organisations/{org}/confirm", ADMIN), ("GET", "/api/v1/admin/audit", ADMIN),
]
BODIES = {("PUT", "/api/v1/me"): lambda: {"phone": "+380 44 123 45 67"},
          ("POST", "/api/v1/me/consent"): lambda: {"version": "2026-11"},
          ("POST", "/api/v1/organisations"): lambda: {"name": f"ОСББ «Світанок-{uuid.uuid4().hex[:6]}»",
                                                      "kind": "condominium", "edrpou": edrpou()},
          ("POST", "/api/v1/admin/persons/{other}/roles"): lambda: {"role": "admin"},
          ("POST", "/api/v1/admin/units"): lambda: {"name": f"Відділ {uuid.uuid4().hex[:8]}"}}
ROLES = {"resident": ["resident"], "institution_head": ["institution_head"], "official": ["official"],
         "moderator": ["moderator"], "admin": ["admin"]}


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
@pytest.mark.parametrize("method,path,need", ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_role_matrix(system, people, role, method, path, need):
    """A fresh caller per case, so that logout and erasure cannot disturb the other cases (R-2.1)."""
    base = system.base_url
    caller = Caller(base) if role == "anonymous" else dev_login(
        base, ROLES[role], unit="Відділ матриці" if role == "official" else None, full_name=f"Матриця {role}")
    target = dev_login(base, full_name="Інша Особа")
    role_id = people["admin"].post(f"/api/v1/admin/persons/{target.person_id}/roles",
                                   json={"role": "moderator"}).json()["id"]
    org_id = target.post("/api/v1/organisations", json={"name": f"ГО «Матриця {uuid.uuid4().hex[:6]}»",
                                                        "kind": "ngo", "edrpou": edrpou()}).json()["id"]
    body = BODIES.get((method, path))
    r = caller.request(method, path.format(other=target.person_id, role=role_id, org=org_id),
                       json=body() if body else None)
    if need == PUBLIC or (need == LOGIN and role != "anonymous") or (need == ADMIN and role == "admin"):
        assert r.status_code in (200, 201, 204), f"{role} {method} {path}: {r.status_code} {r.text}"
    elif role == "anonymous":
        assert r.status_code == 401 and r.json()["code"] == "login_required", r.text
    else:
        assert r.status_code == 403 and r.json()["code"] == "role_required", r.text


def test_services_check_roles_again(env, system, people):
    """Past the gateway, the registry refuses a non-admin actor on its own (R-2.1)."""
    with ClusterRpcProxy({"AMQP_URI": env.amqp_uri}, timeout=10) as rpc:
        with pytest.raises(chassis.errors.Forbidden):
            rpc.registry.grant_role(people["moderator"].person_id, people["resident"].person_id,
                                    {"role": "admin"})
        with pytest.raises(chassis.errors.Forbidden):
            rpc.registry.admin_get_person(people["official"].person_id, people["resident"].person_id)


def test_grant_and_revoke_are_audited_and_published(env, system, people):
    """Clauses R-2.1, R-4.1."""
    admin, person = people["admin"], dev_login(system.base_url, full_name="Нова Модераторка")
    tap = Tap(env.amqp_uri, "registry", "#")
    granted = admin.post(f"/api/v1/admin/persons/{person.person_id}/roles", json={"role": "moderator"})
    assert granted.status_code == 201
    assert any(r["role"] == "moderator" for r in person.get("/api/v1/me").json()["roles"])
    again = admin.post(f"/api/v1/admin/persons/{person.person_id}/roles", json={"role": "moderator"})
    assert again.status_code == 409 and again.json()["code"] == "role_exists"
    bad = admin.post(f"/api/v1/admin/persons/{person.person_id}/roles", json={"role": "official"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "unit_id"
    role_id = granted.json()["id"]
    assert admin.delete(f"/api/v1/admin/persons/{person.person_id}/roles/{role_id}").status_code == 204
    assert not any(r["role"] == "moderator" for r in person.get("/api/v1/me").json()["roles"])
    bodies = tap.drain(15, until=2, where=lambda b: b["data"]["person_id"] == person.person_id
                       and b["type"].startswith("role_"))  # person_registered may still be on its way
    assert [b["type"] for b in bodies] == ["role_granted", "role_revoked"]
    assert bodies[0]["data"]["granted_by"] == admin.person_id
    trail = admin.get("/api/v1/admin/audit", params={"person_id": person.person_id}).json()["items"]
    actions = [(e["action"], e["actor_id"]) for e in trail]
    assert ("role_granted", admin.person_id) in actions and ("role_revoked", admin.person_id) in actions
    tap.close()


def test_admin_reading_personal_data_is_audited(system, people):
    """Clauses R-2.4, R-4.1."""
    admin, person = people["admin"], dev_login(system.base_url, full_name="Читана Особа")
    person.put("/api/v1/me", json={"email": "chytana@example.org"})
    assert admin.get(f"/api/v1/admin/persons/{person.person_id}").json()["email"] == "chytana@example.org"
    trail = admin.get("/api/v1/admin/audit", params={"person_id": person.person_id}).json()["items"]
    assert any(e["action"] == "person_read" and e["actor_id"] == admin.person_id for e in trail)
    assert person.get("/api/v1/me/export").json()["audit"][0]["action"] == "person_read"


def test_institution_is_confirmed_by_an_administrator(system, people):
    """Clause R-2.2."""
    head = dev_login(system.base_url, full_name="Голова ОСББ Степан")
    org = head.post("/api/v1/organisations", json={"name": "ОСББ «Древлянин»", "kind": "condominium",
                                                         "edrpou": edrpou()})
    assert org.status_code == 201 and org.json()["confirmed"] is False
    public = requests.get(system.base_url + "/api/v1/organisations", timeout=5).json()["items"]
    assert org.json()["id"] not in [o["id"] for o in public]
    confirmed = people["admin"].post(f"/api/v1/admin/organisations/{org.json()['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["confirmed"] is True
    assert any(r["role"] == "institution_head" for r in head.get("/api/v1/me").json()["roles"])
    bad = head.post("/api/v1/organisations", json={"name": "Х", "kind": "party", "status": "confirmed"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"body.name", "body.kind", "body.status", "body.edrpou"}


def test_cabinet_update_validates_and_names_fields(system, people):
    """Clauses R-1.13, R-2.4."""
    me = people["resident"]
    r = me.put("/api/v1/me", json={"email": "not-an-email", "interests": [1, 99]})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"body.email"}
    r = me.put("/api/v1/me", json={"interests": [1, 99]})
    assert r.status_code == 422 and r.json()["code"] == "unknown_category"
    r = me.put("/api/v1/me", json={"full_name": "Хтось Інший"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.full_name"
    assert me.get("/api/v1/me").json()["full_name"] == "Мешканка Ганна Іванівна"


def test_export_holds_every_field_and_erasure_removes_contacts(env, system):
    """Clause R-2.4."""
    person = dev_login(system.base_url, full_name="Стерта Оксана")
    person.put("/api/v1/me", json={"email": "oksana@example.org", "phone": "+380671112233", "interests": [7]})
    export = person.get("/api/v1/me/export")
    assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]
    held = export.json()
    assert set(held["person"]) == {c.name for c in persons.columns}, "export must show every stored field"
    assert held["person"]["email"] == "oksana@example.org" and held["person"]["interests"] == [7]
    assert held["sessions"] and held["roles"]

    def in_register() -> bool:
        with ClusterRpcProxy({"AMQP_URI": env.amqp_uri}, timeout=10) as rpc:
            after = None
            while True:
                page = rpc.registry.interested_persons(7, after, 500)
                if any(i["person_id"] == person.person_id for i in page["items"]):
                    return True
                if not page["next_after"]:
                    return False
                after = page["next_after"]

    assert in_register()
    tap = Tap(env.amqp_uri, "registry", "person_erased")
    assert person.delete("/api/v1/me").status_code == 204
    assert tap.drain(15, until=1, where=lambda b: b["data"]["person_id"] == person.person_id)
    tap.close()
    assert not in_register()
    assert person.get("/api/v1/me").status_code == 401  # every session ended at once
    # logging in again (without consenting anew) shows what is left: the name, no contacts
    back = dev_login(system.base_url, full_name="Стерта Оксана", subject=held["person"]["subject"], consent=False)
    assert back.person_id == person.person_id
    left = back.get("/api/v1/me/export").json()["person"]
    assert left["email"] is None and left["phone"] is None and left["interests"] == []
    assert left["full_name"] == "Стерта Оксана" and left["consent_withdrawn_at"] and left["erased_at"]
    assert not in_register()


def test_registry_events_carry_no_contacts(env, system):
    """Clause R-2.4."""
    tap = Tap(env.amqp_uri, "registry", "#")
    person = dev_login(system.base_url, full_name="Подієва Людмила")
    person.put("/api/v1/me", json={"email": "ludmyla@example.org", "interests": [2]})
    mine = tap.drain(15, until=2, where=lambda b: b["data"]["person_id"] == person.person_id)
    assert [b["type"] for b in mine] == ["person_registered", "person_updated"]
    assert mine[1]["data"]["fields"] == ["email", "interests"]
    assert "ludmyla" not in str(mine)
    tap.close()


def test_no_personal_data_in_any_log_line(system):
    """Contacts and birth dates set during these tests never reach a log line (R-2.4)."""
    person = dev_login(system.base_url, full_name="Журнальна Зоя", birth_date="1977-05-05")
    person.put("/api/v1/me", json={"email": "zoya.secret@example.org", "phone": "+380509998877"})
    person.get("/api/v1/me/export")
    logs = "".join(system.logs(name) for name in system.commands)
    for secret in ("zoya.secret@example.org", "+380509998877", "380509998877", "1977-05-05",
                   "oksana@example.org", "+380671112233"):
        assert secret not in logs, f"{secret} leaked into a log"
