"""The registry's pure rules (services/registry/rules.py): no database, no broker."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from chassis.errors import Conflict, Forbidden, InvalidInput
from contracts.identity import Role, RoleOut, age_on, eligibility
from contracts.registry import MeUpdate, RoleGrant
from services.registry import rules
from services.registry.consent import CONSENT_VERSION
from tests.support.principals import principal

TODAY = date(2026, 11, 30)


def test_r_1_3_fourteen_on_the_birthday_not_the_day_before():
    assert eligibility(date(2012, 11, 30), True, TODAY).eligible
    day_before = eligibility(date(2012, 12, 1), True, TODAY)
    assert not day_before.eligible and day_before.reasons == ["under_14"]
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


def test_r_1_3_every_reason_is_named():
    assert eligibility(None, False, TODAY).reasons == ["birth_date_unknown", "not_community_member"]
    assert eligibility(date(2015, 1, 1), False, TODAY).reasons == ["under_14", "not_community_member"]
    assert eligibility(date(1990, 1, 1), True, TODAY).reasons == []


@pytest.mark.parametrize("born,band", [(None, "unknown"), (date(2013, 1, 1), "under_14"), (date(2012, 11, 30), "14–17"),
                                       (date(2008, 11, 30), "18–35"), (date(1990, 11, 30), "36–60"),
                                       (date(1965, 11, 30), "60+")])
def test_r_3_16_age_bands_of_the_report(born, band):
    assert rules.age_band(born, TODAY) == band


def test_r_2_4_consent_is_to_the_current_wording_and_lasts_until_withdrawn():
    rules.check_consent_version(CONSENT_VERSION)
    with pytest.raises(InvalidInput) as exc:
        rules.check_consent_version("2020-01")
    assert exc.value.code == "consent_version_outdated" and exc.value.errors[0]["field"] == "version"
    assert rules.consented(SimpleNamespace(consent_version="2026-11", consent_withdrawn_at=None))
    assert not rules.consented(SimpleNamespace(consent_version="2026-11", consent_withdrawn_at=datetime.now()))
    assert not rules.consented(SimpleNamespace(consent_version=None, consent_withdrawn_at=None))
    with pytest.raises(Forbidden):
        rules.require_consent(False)


def test_r_1_13_r_2_4_cabinet_interests_are_known_categories_sorted_once():
    assert rules.profile_changes(MeUpdate(interests=[7, 3, 7])) == {"interests": [3, 7]}
    with pytest.raises(InvalidInput) as exc:
        rules.profile_changes(MeUpdate(interests=[1, 23]))
    assert exc.value.code == "unknown_category" and exc.value.errors[0]["field"] == "interests"
    with pytest.raises(InvalidInput):
        rules.check_category(0)
    rules.check_category(22)


def test_r_2_4_omitted_and_null_switches_stay_as_they_are_but_contacts_may_be_cleared():
    assert rules.profile_changes(MeUpdate()) == {}
    assert rules.profile_changes(MeUpdate(email_enabled=None, email_mode=None, interests=None)) == {}
    assert rules.profile_changes(MeUpdate(email=None, email_mode="daily_digest")) == \
        {"email": None, "email_mode": "daily_digest"}


def test_r_2_1_everyone_logged_in_is_a_resident():
    at = datetime.now(timezone.utc)
    roles = rules.with_resident([], at)
    assert [r.role for r in roles] == [Role.resident] and roles[0].id == rules.RESIDENT
    admin = RoleOut(id=uuid.uuid4(), role=Role.admin, granted_at=at)
    assert [r.role for r in rules.with_resident([admin], at)] == [Role.resident, Role.admin]
    resident = RoleOut(id=uuid.uuid4(), role=Role.resident, granted_at=at)
    assert rules.with_resident([resident], at) == [resident]


def test_r_2_1_r_2_2_roles_need_their_unit_or_organisation_and_an_admin():
    with pytest.raises(InvalidInput) as exc:
        rules.check_grant(RoleGrant(role=Role.official))
    assert exc.value.errors[0]["field"] == "unit_id"
    with pytest.raises(InvalidInput) as exc:
        rules.check_grant(RoleGrant(role=Role.institution_head))
    assert exc.value.errors[0]["field"] == "organisation_id"
    rules.check_grant(RoleGrant(role=Role.moderator))
    with pytest.raises(Forbidden):
        rules.require_role(principal("moderator"), Role.admin)
    assert rules.require_role(principal("admin"), Role.admin)


def test_r_2_1_an_admin_cannot_revoke_their_own_admin_role():
    me = uuid.uuid4()
    with pytest.raises(Conflict):
        rules.check_revoke(me, "admin", me)
    rules.check_revoke(me, "moderator", me)
    rules.check_revoke(uuid.uuid4(), "admin", me)


def test_sessions_end_when_revoked_or_expired():
    at = datetime.now(timezone.utc)
    assert rules.session_open(None, at + timedelta(seconds=1), at)
    assert not rules.session_open(None, at, at)
    assert not rules.session_open(at, at + timedelta(hours=1), at)


def test_a_caller_over_the_limit_waits_until_its_window_ends():
    at = datetime(2026, 11, 25, 5, 30, 17, tzinfo=timezone.utc)
    start = rules.window_start(at, 60)
    assert rules.wait_seconds(start, 60, at) == 44


def test_a_partners_api_key_is_kept_as_a_digest_and_checked_for_scope_and_expiry():
    from chassis.errors import NotFound
    prefix, key = rules.new_api_key()
    assert key.startswith(prefix + "_") and prefix.startswith(rules.API_KEY_PREFIX) and rules.looks_like_api_key(key)
    assert rules.api_key_digest(key) != key and len(rules.api_key_digest(key)) == 64
    assert not rules.looks_like_api_key("Bearer x") and not rules.looks_like_api_key(None)
    at = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    row = SimpleNamespace(revoked_at=None, expires_at=at + timedelta(days=1), scopes=["events:read"])
    rules.check_api_key(row, "events:read", at)
    with pytest.raises(Forbidden):
        rules.check_api_key(row, "consultations:read", at)
    for dead in (None, SimpleNamespace(**{**vars(row), "revoked_at": at}),
                 SimpleNamespace(**{**vars(row), "expires_at": at})):
        with pytest.raises(NotFound):
            rules.check_api_key(dead, "events:read", at)
    assert rules.api_key_use_stale(None, at) and rules.api_key_use_stale(at - timedelta(seconds=61), at)
    assert not rules.api_key_use_stale(at - timedelta(seconds=30), at)


# ---- the ЄДРПОУ code of an institution (R-2.2) ----------------------------------------------------

@pytest.mark.parametrize("code", ["14360570", "00032129", "20077720", "31316718"])
def test_r_2_2_real_edrpou_codes_pass_the_check_digit_rule(code):
    """Clause R-2.2."""
    from contracts.registry import edrpou_check_digit, edrpou_valid
    assert edrpou_valid(code) and edrpou_check_digit(code) == int(code[7])


@pytest.mark.parametrize("code", ["14360571", "1436057", "143605700", "1436057a", "１４３６０５７０", "", None])
def test_r_2_2_a_wrong_check_digit_or_shape_is_refused(code):
    """Clause R-2.2."""
    from contracts.registry import edrpou_valid
    assert not edrpou_valid(code)


def test_r_2_2_a_remainder_of_ten_is_computed_again_with_weights_plus_two_and_a_second_ten_gives_0():
    """Clause R-2.2."""
    from contracts.registry import edrpou_check_digit
    assert edrpou_check_digit("00000050") == 2        # 5·7 = 35 → 2
    assert edrpou_check_digit("35000000") == 4        # 30–60 million: weights 7,1…6: 3·7 + 5·1 = 26 → 4
    assert edrpou_check_digit("00700000") == 2        # 7·3 = 21 → 10; again with 5: 35 → 2
    assert edrpou_check_digit("00002810") == 0        # 2·5 + 8·6 + 1·7 = 65 → 10; 14 + 64 + 9 = 87 → 10 → 0
