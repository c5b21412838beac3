"""The registry's units of work (services/registry/handlers.py) over the in-memory store."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from contracts.identity import Role
from contracts.registry import (DevLoginIn, IdentityIn, MeUpdate, OrganisationIn, PersonErased, PersonRegistered,
                                PersonUpdated, RoleGrant, RoleGranted, RoleRevoked, UnitIn)
from services.registry import handlers
from services.registry.consent import CONSENT_VERSION
from contracts.registry import Bucket
from tests.registry.fakes import FakeStore
from tests.support.fakes import fixtures

TTL = timedelta(minutes=30)


store, uow = fixtures(FakeStore)


def person(uow, *roles: str, consent=True, unit=None, name="Особа Тестова") -> uuid.UUID:
    out = handlers.dev_login(uow, DevLoginIn(subject=uuid.uuid4().hex, full_name=name, roles=["resident", *roles],
                                             unit=unit, consent=consent, birth_date=date(1990, 1, 1)), TTL)
    return out.person_id


def test_r_2_3_a_first_login_registers_the_person_once(uow, store):
    identity = IdentityIn(subject="s-1", full_name="Нова Особа", email="a@example.org")
    first = handlers.login(uow, identity, TTL)
    again = handlers.login(uow, identity, TTL)
    assert first.person_id == again.person_id and first.consent_required
    assert len(store.events_of(PersonRegistered)) == 1


def test_r_2_4_identity_contacts_fill_only_empty_fields_and_never_after_erasure(uow, store):
    ref = handlers.register(uow, IdentityIn(subject="s-2", full_name="Особа", email="idp@example.org"))
    handlers.give_consent(uow, ref.id, CONSENT_VERSION)
    handlers.update_me(uow, ref.id, MeUpdate(email="mine@example.org"))
    handlers.register(uow, IdentityIn(subject="s-2", full_name="Особа", email="idp@example.org"))
    assert store.persons[ref.id]["email"] == "mine@example.org"
    handlers.erase_me(uow, ref.id)
    handlers.register(uow, IdentityIn(subject="s-2", full_name="Особа", email="idp@example.org"))
    assert store.persons[ref.id]["email"] is None


def test_r_2_4_nothing_changes_in_the_cabinet_before_consent(uow, store):
    pid = person(uow, consent=False)
    with pytest.raises(Forbidden):
        handlers.update_me(uow, pid, MeUpdate(phone="+380671112233"))
    with pytest.raises(InvalidInput):
        handlers.give_consent(uow, pid, "1999-01")
    me = handlers.give_consent(uow, pid, CONSENT_VERSION)
    assert me.consent.version == CONSENT_VERSION
    assert [e["action"] for e in store.audit_log] == ["consent_given"]


def test_r_2_4_a_cabinet_change_is_published_with_field_names_only(uow, store):
    pid = person(uow)
    me = handlers.update_me(uow, pid, MeUpdate(interests=[9, 2, 9], email="x@example.org"))
    assert me.interests == [2, 9]
    assert store.events_of(PersonUpdated)[-1] == PersonUpdated(person_id=pid, fields=["email", "interests"])
    count = len(store.events)
    handlers.update_me(uow, pid, MeUpdate())
    assert len(store.events) == count  # nothing changed, nothing published


def test_r_2_4_erasure_removes_contacts_ends_sessions_and_keeps_the_name(uow, store):
    pid = person(uow, name="Стерта Оксана")
    handlers.update_me(uow, pid, MeUpdate(email="o@example.org", phone="+380671112233", interests=[7]))
    sid = next(iter(store.sessions))
    handlers.erase_me(uow, pid)
    me = handlers.read_me(uow, pid)
    assert (me.email, me.phone, me.interests, me.email_enabled, me.erased) == (None, None, [], False, True)
    assert me.full_name == "Стерта Оксана"
    with pytest.raises(NotFound):
        handlers.resolve(uow, sid)
    assert store.events_of(PersonErased)[0].person_id == pid


def test_r_1_3_the_principal_carries_eligibility_and_a_resident_role(uow, store):
    ref = handlers.register(uow, IdentityIn(subject="kid", full_name="Школяр",
                                            birth_date=date.today().replace(year=date.today().year - 13)))
    with uow.transaction() as s:
        p = handlers.principal(s, ref.id)
    assert p.eligibility.reasons == ["under_14", "not_community_member"] and p.has("resident")


def test_r_2_1_only_an_admin_grants_and_revokes_roles_and_both_are_audited_and_published(uow, store):
    admin, target = person(uow, "admin"), person(uow)
    with pytest.raises(Forbidden):
        handlers.grant_role(uow, target, target, RoleGrant(role=Role.moderator))
    role = handlers.grant_role(uow, admin, target, RoleGrant(role=Role.moderator))
    with pytest.raises(Conflict):
        handlers.grant_role(uow, admin, target, RoleGrant(role=Role.moderator))
    handlers.revoke_role(uow, admin, target, role.id)
    with pytest.raises(NotFound):
        handlers.revoke_role(uow, admin, target, role.id)
    assert [e["action"] for e in store.audit_log[-2:]] == ["role_granted", "role_revoked"]
    assert store.events_of(RoleGranted)[-1].person_id == target
    assert store.events_of(RoleRevoked)[-1].role_id == role.id


def test_r_2_1_an_official_belongs_to_a_known_unit_and_an_admin_keeps_their_own_role(uow, store):
    admin, target = person(uow, "admin"), person(uow)
    with pytest.raises(InvalidInput) as exc:
        handlers.grant_role(uow, admin, target, RoleGrant(role=Role.official, unit_id=uuid.uuid4()))
    assert exc.value.code == "unit_not_found"
    unit = handlers.create_unit(uow, admin, UnitIn(name="Відділ освіти"))
    with pytest.raises(Conflict):
        handlers.create_unit(uow, admin, UnitIn(name="Відділ освіти"))
    out = handlers.grant_role(uow, admin, target, RoleGrant(role=Role.official, unit_id=unit.id))
    assert out.unit_name == "Відділ освіти"
    own = next(r for r in handlers.read_me(uow, admin).roles if r.role == Role.admin)
    with pytest.raises(Conflict):
        handlers.revoke_role(uow, admin, admin, own.id)


def test_r_2_2_an_institution_is_listed_once_an_admin_confirms_it_and_its_head_gets_the_role(uow, store):
    admin, head = person(uow, "admin"), person(uow, name="Голова ОСББ")
    with pytest.raises(Forbidden):
        handlers.register_organisation(uow, person(uow, consent=False), OrganisationIn(name="ГО", kind="ngo",
                                                                                       edrpou="14360570"))
    org = handlers.register_organisation(uow, head, OrganisationIn(name="ОСББ «Світанок»", kind="condominium",
                                                                   edrpou="00032129"))
    assert not org.confirmed and handlers.list_organisations(uow) == []
    assert [o.id for o in handlers.list_organisations(uow, admin)] == [org.id]
    with pytest.raises(Forbidden):
        handlers.confirm_organisation(uow, head, org.id)
    assert handlers.confirm_organisation(uow, admin, org.id).confirmed
    with pytest.raises(Conflict):
        handlers.confirm_organisation(uow, admin, org.id)
    assert any(r.role == Role.institution_head and r.organisation_id == org.id
               for r in handlers.read_me(uow, head).roles)


def test_r_2_2_an_institution_carries_its_edrpou_code_and_kind_and_a_code_is_filed_once(uow, store):
    """Clause R-2.2."""
    head, other = person(uow, name="Голова профспілки"), person(uow)
    org = handlers.register_organisation(uow, head, OrganisationIn(name="Профспілка вчителів", kind="trade_union",
                                                                   edrpou="31316718"))
    assert (org.edrpou, org.kind_label) == ("31316718", "професійна спілка")
    with pytest.raises(Conflict) as refused:
        handlers.register_organisation(uow, other, OrganisationIn(name="Інша", kind="business", edrpou="31316718"))
    assert refused.value.errors[0]["field"] == "edrpou"


def test_r_2_2_a_confirmed_head_s_principal_names_the_institution_and_its_kind(uow, store):
    """Clause R-2.2."""
    admin, head = person(uow, "admin"), person(uow, name="Голова ОСББ")
    org = handlers.register_organisation(uow, head, OrganisationIn(name="ОСББ «Лісова»", kind="condominium",
                                                                   edrpou="20077720"))
    handlers.confirm_organisation(uow, admin, org.id)
    with uow.transaction() as s:
        role = handlers.principal(s, head).headed(org.id)
    assert (role.organisation_name, role.organisation_kind) == ("ОСББ «Лісова»", "condominium")


def test_r_2_4_an_admin_reading_someone_s_data_is_audited(uow, store):
    admin, other = person(uow, "admin"), person(uow)
    handlers.admin_read_person(uow, admin, other)
    assert store.audit_log[-1]["action"] == "person_read" and store.audit_log[-1]["person_id"] == other
    with pytest.raises(Forbidden):
        handlers.admin_read_person(uow, other, admin)
    with pytest.raises(Forbidden):
        handlers.audit_log(uow, other, None)


def test_r_2_4_one_click_unsubscribe_is_published_once(uow, store):
    pid = person(uow)
    assert handlers.unsubscribe(uow, pid) is True
    assert handlers.unsubscribe(uow, pid) is False
    assert [e.fields for e in store.events_of(PersonUpdated)] == [["email_enabled"]]


def test_dev_login_gives_each_role_once(uow, store):
    body = DevLoginIn(subject="dev-1", full_name="Розробник", roles=["official", "institution_head"], unit="Відділ")
    handlers.dev_login(uow, body, TTL)
    handlers.dev_login(uow, body, TTL)
    assert sorted(r.role for r in store.roles.values()) == ["institution_head", "official"]
    with pytest.raises(InvalidInput):
        handlers.dev_login(uow, DevLoginIn(subject="dev-2", full_name="Без Підрозділу", roles=["official"]), TTL)


def test_request_counts_answer_the_wait_of_the_fullest_bucket_and_count_the_person(uow, store):
    at = datetime(2026, 11, 25, 5, 30, 17, tzinfo=timezone.utc)
    small, big = Bucket(key="ip:1", limit=1, window=60), Bucket(key="ip:2", limit=5, window=3600)
    assert handlers.rate_hit(uow, [small, big], at) == 0
    assert handlers.rate_hit(uow, [small, big], at) == 44
    pid = person(uow)
    sid = next(s for s, row in store.sessions.items() if row.person_id == pid)
    found, wait = handlers.resolve_and_hit(uow, sid, [], Bucket(key="person:", limit=1, window=60), at)
    assert found.person_id == pid and wait == 0 and store.hits[f"person:{pid}", datetime(2026, 11, 25, 5, 30,
                                                                                          tzinfo=timezone.utc)] == 1
    nobody, _ = handlers.resolve_and_hit(uow, uuid.uuid4(), [small], Bucket(key="person:", limit=1, window=60), at)
    assert nobody is None
