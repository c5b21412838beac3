"""Who may take part (R-1.3), one rule for the gateway and the services (contracts/identity.py)."""
from __future__ import annotations

import uuid
from datetime import date

import pytest

from chassis.errors import Forbidden
from contracts.identity import Eligibility, Principal, eligibility, require_consent, require_participant


def person(eligible: Eligibility, consent: bool = True) -> Principal:
    return Principal(person_id=uuid.uuid4(), full_name="Коваль Денис", roles=[], eligibility=eligible,
                     consent_given=consent)


def test_R_1_3_fourteen_and_a_community_member_may_take_part():
    assert eligibility(date(2012, 11, 30), True, date(2026, 11, 30)) == Eligibility(eligible=True, reasons=[])
    assert eligibility(date(2012, 12, 1), True, date(2026, 11, 30)).reasons == ["under_14"]
    assert eligibility(None, False, date(2026, 11, 30)).reasons == ["birth_date_unknown", "not_community_member"]


def test_R_1_3_a_refusal_names_every_reason_in_one_message():
    teen = person(eligibility(date(2015, 1, 1), False, date(2026, 11, 30)))
    with pytest.raises(Forbidden) as caught:
        require_participant(teen)
    assert caught.value.code == "under_14"
    assert [e["type"] for e in caught.value.errors] == ["under_14", "not_community_member"]
    assert caught.value.detail.startswith("Ви можете читати, але не брати участь: ")
    assert "14 років" in caught.value.detail and "громаді" in caught.value.detail


def test_consent_comes_first():
    with pytest.raises(Forbidden) as caught:
        require_participant(person(Eligibility(eligible=True, reasons=[]), consent=False))
    assert caught.value.code == "consent_required"
    with pytest.raises(Forbidden):
        require_consent(person(Eligibility(eligible=True, reasons=[]), consent=False))
    adult = person(Eligibility(eligible=True, reasons=[]))
    assert require_participant(adult) is adult
