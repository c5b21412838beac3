"""Deadlines over the Ukrainian calendar (R-3.10: 2 working days; R-3.18: 5 working days)."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from chassis.workdays import add_working_days, calendar_deadline, is_working_day, working_deadline

KYIV = ZoneInfo("Europe/Kyiv")


def test_weekend_is_skipped():
    """Clause R-3.10."""
    assert add_working_days(date(2026, 11, 20), 2) == date(2026, 11, 24)  # Fri → Tue


def test_friday_before_a_public_holiday_when_holidays_are_days_off():
    # Fri 20 Aug 2021; Mon 23 Aug was a transferred day off, Tue 24 Aug Independence Day
    """Clause R-3.10."""
    assert add_working_days(date(2021, 8, 20), 2) == date(2021, 8, 26)


def test_martial_law_setting_makes_holidays_working_days():
    """Clause R-3.10."""
    assert add_working_days(date(2021, 8, 20), 2, holidays_are_days_off=False) == date(2021, 8, 24)


def test_new_year_before_and_under_martial_law():
    """Clause R-3.18."""
    assert add_working_days(date(2021, 12, 31), 2) == date(2022, 1, 5)  # 1 Jan (Sat) observed on 3 Jan
    # since 2022 the calendar lists no days off under martial law: 1 January 2027 is a working day
    assert is_working_day(date(2027, 1, 1))
    assert add_working_days(date(2026, 12, 31), 2) == date(2027, 1, 4)


def test_due_times_end_at_kyiv_midnight():
    """Clause R-3.10."""
    submitted = datetime(2026, 11, 20, 22, 30, tzinfo=ZoneInfo("UTC"))  # already Saturday in Kyiv
    assert working_deadline(submitted, 2) == datetime(2026, 11, 25, 0, 0, tzinfo=KYIV)
    assert calendar_deadline(date(2026, 12, 1), 15) == datetime(2026, 12, 17, 0, 0, tzinfo=KYIV)


@pytest.mark.parametrize("days", [0, 1, 5, 30])
def test_result_is_always_a_working_day(days):
    """Clause R-3.18."""
    start = date(2021, 4, 30)
    result = add_working_days(start, days)
    assert days == 0 or is_working_day(result)


@pytest.fixture
def settings_env(monkeypatch):
    """Set environment variables for this test's settings; the cached settings are rebuilt."""
    from chassis.settings import get_settings

    def apply(**env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


def test_R_3_10_one_clock_for_the_deadline_list_and_the_moderators_queue(settings_env):
    """R-3.10: consultations (``/api/v1/deadlines``) and moderation (its queue) compute the due time
    with one function, so ``HOLIDAYS_ARE_DAYS_OFF`` moves both the same way."""
    from contracts.moderation import moderation_due
    from services.consultations import rules as consultations
    from services.moderation import rules as moderation

    assert consultations.moderation_due is moderation_due
    friday = datetime(2021, 8, 20, 10, 0, tzinfo=KYIV)  # Mon 23 Aug a day off, Tue 24 Independence Day
    settings_env(HOLIDAYS_ARE_DAYS_OFF="true")
    assert moderation_due(friday) == moderation.due_at(friday) == datetime(2021, 8, 27, 0, 0, tzinfo=KYIV)
    settings_env(HOLIDAYS_ARE_DAYS_OFF="false")
    assert moderation_due(friday) == moderation.due_at(friday) == datetime(2021, 8, 25, 0, 0, tzinfo=KYIV)
    assert working_deadline(friday, 2) == moderation_due(friday)


def test_deadlines_end_at_midnight_in_the_tz_setting(settings_env):
    settings_env(TZ="Europe/Warsaw")
    submitted = datetime(2026, 11, 20, 12, 0, tzinfo=ZoneInfo("UTC"))
    assert working_deadline(submitted, 2) == datetime(2026, 11, 25, 0, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
