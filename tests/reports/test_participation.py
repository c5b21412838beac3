"""Who is missing while a consultation runs (R-3.12): small counts withheld, shares set against the
community's, only the owning unit sees it; the report's respondents by type and channel (R-3.16).
No infrastructure: the rules directly, the use case over stand-ins of the other services."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest

from chassis.errors import Conflict, NotFound
from contracts.registry import ParticipantProfile
from services.reports import handlers, rules
from tests.support.principals import principal

UNIT = uuid.uuid4()


# ---- the small-cell rule ---------------------------------------------------------------------------

def test_r_3_12_counts_from_one_to_four_are_withheld_and_one_more_so_the_total_cannot_reveal_them():
    """Clause R-3.12."""
    assert rules.withhold_small({"a": 3, "b": 40, "c": 12, "d": 0}, 5) == {"a": None, "b": 40, "c": None, "d": 0}


def test_r_3_12_two_small_counts_hide_each_other_and_large_ones_stay():
    """Clause R-3.12."""
    assert rules.withhold_small({"a": 3, "b": 1, "c": 12}, 5) == {"a": None, "b": None, "c": 12}


def test_r_3_12_five_is_shown_and_zero_is_shown_it_is_who_is_missing():
    """Clause R-3.12."""
    assert rules.withhold_small({"a": 5, "b": 0, "c": 7}, 5) == {"a": 5, "b": 0, "c": 7}


def test_r_3_12_a_total_below_the_threshold_withholds_every_count_zeros_too():
    """Clause R-3.12."""
    assert rules.withhold_small({"a": 4, "b": 0}, 5) == {"a": None, "b": None}
    assert rules.withhold_small({"a": 0, "b": 0}, 5) == {"a": 0, "b": 0}


def test_r_3_12_a_dimension_shows_empty_groups_shares_and_the_gap_to_the_community():
    """Clause R-3.12."""
    got = rules.dimension("age_band", "За віком", {"14–17": "14–17", "18–35": "18–35", "60+": "60+"},
                          {"18–35": 30, "60+": 10, "unknown": 2}, 42, {"14–17": 0.1, "60+": 0.3}, 5)
    cells = {c["key"]: c for c in got["cells"]}
    assert [c["key"] for c in got["cells"]] == ["14–17", "18–35", "60+", "unknown"]
    assert cells["14–17"] == {"key": "14–17", "label": "14–17", "count": 0, "share": 0.0, "community_share": 0.1,
                              "gap": -0.1}
    assert cells["unknown"]["count"] is None and cells["60+"]["count"] is None  # 2 withheld, then the next smallest
    assert cells["18–35"]["share"] == round(30 / 42, 3) and cells["18–35"]["gap"] is None


# ---- the owning unit's live view ---------------------------------------------------------------------

class Store:
    def __init__(self, ids):
        self.ids = ids

    def participant_ids(self, cid):
        return self.ids


class Uow:
    def __init__(self, ids):
        self.store = Store(ids)

    @contextmanager
    def transaction(self):
        yield self.store


def sources(status: str, ids: list, by_type: dict, returning: set, bands: list[str]) -> handlers.Sources:
    def breakdown(cid):
        return {"status": status, "unit_id": str(UNIT), "opened_at": datetime.now(timezone.utc).isoformat(),
                "by_type": by_type, "by_channel": {"web": sum(by_type.values())}}

    def profiles(person_ids, on):
        return [ParticipantProfile(person_id=p, full_name="—", age_band=b) for p, b in zip(person_ids, bands)]

    return handlers.Sources(source=None, comments=None, respondents=None, returning=lambda cid, p: returning,
                            profiles=profiles, breakdown=breakdown)


SHARES = {"age_band": {"14–17": 0.05, "18–35": 0.25, "36–60": 0.42, "60+": 0.28}}


def test_r_3_12_the_owning_unit_sees_participation_by_age_visits_channel_and_type_small_cells_withheld():
    """Clause R-3.12."""
    ids = [uuid.uuid4() for _ in range(26)]
    bands = ["18–35"] * 20 + ["36–60"] * 3 + ["60+"] * 3
    src = sources("active", ids, {"private": 24, "ngo": 2}, set(ids[:6]), bands)
    got = handlers.participation(Uow(ids), src, principal("official", unit_id=UNIT), uuid.uuid4(), date.today(),
                                 SHARES, 5)
    dims = {d.key: {c.key: c for c in d.cells} for d in got.dimensions}
    assert (got.persons, got.respondents) == (26, 26)
    assert dims["age_band"]["14–17"].count == 0 and dims["age_band"]["14–17"].gap == -0.05  # nobody under 18
    assert dims["age_band"]["18–35"].count == 20 and dims["age_band"]["60+"].count is None
    assert dims["visits"]["first_time"].count == 20 and dims["visits"]["returning"].count == 6
    assert dims["respondent_type"]["ngo"].count is None and dims["respondent_type"]["ngo"].label == "громадська організація"
    assert dims["respondent_type"]["trade_union"].count == 0
    assert dims["channel"]["web"].count == 26


@pytest.mark.parametrize("who", [principal(), principal("official", unit_id=uuid.uuid4()), principal("moderator"),
                                 principal("admin"), None])
def test_r_3_12_anyone_but_the_owning_unit_gets_not_found(who):
    """Clause R-3.12."""
    src = sources("active", [], {}, set(), [])
    with pytest.raises(NotFound):
        handlers.participation(Uow([]), src, who, uuid.uuid4(), date.today(), SHARES, 5)


def test_r_3_12_after_closing_the_owning_unit_is_sent_to_the_report():
    """Clause R-3.12."""
    src = sources("closed", [], {}, set(), [])
    with pytest.raises(Conflict) as refused:
        handlers.participation(Uow([]), src, principal("official", unit_id=UNIT), uuid.uuid4(), date.today(), SHARES, 5)
    assert refused.value.code == "consultation_not_active"


# ---- the report's table ----------------------------------------------------------------------------

def test_r_3_16_the_report_counts_respondents_by_type_kept_with_the_snapshot():
    """Clause R-3.16."""
    class Reps:
        def representativeness(self, cid):
            return rules.representativeness([("18–35", True, 3)])
    snap = SimpleNamespace(consultation_id=uuid.uuid4(),
                           source={"respondent_breakdown": {"by_type": {"private": 2, "condominium": 1},
                                                            "by_channel": {"web": 3}}})
    rep = handlers.representativeness(Reps(), snap)
    assert rep["by_type"] == {"private": 2, "condominium": 1} and rep["first_time"] == 3
    old = SimpleNamespace(consultation_id=snap.consultation_id, source={})
    assert handlers.representativeness(Reps(), old)["by_type"] == {}
