"""The registry's SQL against its real PostgreSQL database (a database of this module's own)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from chassis.errors import NotFound
from contracts.registry import IdentityIn
from services.registry import handlers
from services.registry.models import roles
from services.registry.store import Store
from tests.support.world import own_database


@pytest.fixture(scope="module")
def engine(make_env):
    with own_database(make_env, "registry") as e:
        yield e


@pytest.fixture()
def store(engine):
    session = Session(engine, expire_on_commit=False)
    session.begin()
    yield Store(session)
    session.rollback()
    session.close()


def test_r_2_1_a_session_resolves_in_one_statement_to_what_its_person_and_roles_say(store):
    """The session, its person and their active roles come from one statement, and the principal
    is the one the person's own rows make (names of unit and institution, grants oldest first,
    a revoked role gone); a revoked, an expired and an unknown session resolve to nothing."""
    person = handlers.upsert_identity(store, IdentityIn(subject="s-one-statement", full_name="Олена Петренко",
                                                        birth_date=date(1990, 5, 1), community_member=True)).id
    store.give_consent(person, "2026-11")
    unit, org = uuid.uuid4(), uuid.uuid4()
    store.add_unit(unit, {"name": "Управління освіти"})
    store.add_organisation(org, "ГО «Зелене місто»", "ngo", person, confirmed=True, edrpou="12345678")
    granted = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for days, (role, unit_id, org_id) in enumerate((("institution_head", None, org), ("official", unit, None),
                                                    ("moderator", None, None))):
        role_id = uuid.uuid4()
        store.add_role(role_id, person, role, unit_id, org_id, None)
        # granted on different days, the official first (one transaction's rows share its now())
        store.session.execute(update(roles).where(roles.c.id == role_id)
                              .values(granted_at=granted + timedelta(days=(1, 0, 2)[days])))
    revoked = next(r["id"] for r in store.active_roles(person) if r["role"] == "moderator")
    store.end_role(revoked, person)
    sid = uuid.uuid4()
    store.add_session(sid, person, datetime.now(timezone.utc) + timedelta(hours=1))

    got = handlers.resolve_session(store, sid)
    def without_residents_grant(p):  # everyone's resident role is granted "now", at each call
        return p.model_dump(exclude={"roles": {0: {"granted_at"}}})
    assert without_residents_grant(got) == without_residents_grant(handlers.principal(store, person, sid))
    assert [(r.role.value, r.unit_name, r.organisation_name, r.organisation_kind) for r in got.roles] == [
        ("resident", None, None, None), ("official", "Управління освіти", None, None),
        ("institution_head", None, "ГО «Зелене місто»", "ngo")]
    assert got.full_name == "Олена Петренко" and got.consent_given and got.eligibility.eligible

    gone, expired = uuid.uuid4(), uuid.uuid4()
    store.add_session(gone, person, datetime.now(timezone.utc) + timedelta(hours=1))
    store.revoke_session(gone)
    store.add_session(expired, person, datetime.now(timezone.utc) - timedelta(seconds=1))
    for sid in (gone, expired, uuid.uuid4()):
        with pytest.raises(NotFound):
            handlers.resolve_session(store, sid)
