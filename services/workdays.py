"""Working days on the Ukrainian calendar, for the deadlines of R-3.10 (moderation: 2 working days),
R-3.18 (decision: 5 working days) and the calendar-day ones (R-1.12, R-3.17). Domain rules shared
by several services; plain functions, no framework.

Public holidays come from the ``holidays`` package (which also knows transferred working
Saturdays). Whether holidays are days off is a setting, since martial law suspends them
(``HOLIDAYS_ARE_DAYS_OFF``); the package itself lists none for the years of martial law.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

KYIV = ZoneInfo("Europe/Kyiv")


@lru_cache(maxsize=64)
def _public(year: int):
    return holidays.Ukraine(years=year, categories=("public",))


@lru_cache(maxsize=64)
def _transferred_workdays(year: int):
    return holidays.Ukraine(years=year, categories=("workday",))


def is_working_day(day: date, holidays_are_days_off: bool = True) -> bool:
    if day in _transferred_workdays(day.year):
        return True  # a Saturday made a working day by a transfer
    if day.weekday() >= 5:
        return False
    return not (holidays_are_days_off and day in _public(day.year))


def add_working_days(start: date, days: int, holidays_are_days_off: bool = True) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if is_working_day(current, holidays_are_days_off):
            left -= 1
    return current


def end_of_day(day: date) -> datetime:
    """The last moment of ``day`` in Kyiv, as an aware datetime (deadlines end at midnight)."""
    return datetime.combine(day + timedelta(days=1), time(0), KYIV)


def working_deadline(moment: datetime, days: int, holidays_are_days_off: bool = True) -> datetime:
    """Due time ``days`` working days after ``moment`` (end of that day, Kyiv time)."""
    local = moment.astimezone(KYIV).date()
    return end_of_day(add_working_days(local, days, holidays_are_days_off))


def calendar_deadline(day: date, days: int) -> datetime:
    return end_of_day(day + timedelta(days=days))


def today_kyiv(now: datetime | None = None) -> date:
    return (now or datetime.now(KYIV)).astimezone(KYIV).date()
