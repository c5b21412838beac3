"""The city's calendar: working days on the Ukrainian calendar and deadlines in the city's time zone
(the ``tz`` setting), for R-3.10 (moderation: 2 working days), R-3.18 (decision: 5 working days) and
the calendar-day ones (R-1.12, R-3.17). Every service and the gateway count deadlines here, once.

Public holidays come from the ``holidays`` package (which also knows transferred working
Saturdays). Whether holidays are days off is the ``holidays_are_days_off`` setting, since martial law
suspends them (``HOLIDAYS_ARE_DAYS_OFF``); the package itself lists none for the years of martial law.
A caller may pass the flag explicitly; by default the setting decides.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from chassis.settings import get_settings


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_tz() -> ZoneInfo:
    """The city's time zone (the ``tz`` setting)."""
    return _zone(get_settings().tz)


def _days_off(holidays_are_days_off: bool | None) -> bool:
    return get_settings().holidays_are_days_off if holidays_are_days_off is None else holidays_are_days_off


@lru_cache(maxsize=64)
def _public(year: int):
    return holidays.Ukraine(years=year, categories=("public",))


@lru_cache(maxsize=64)
def _transferred_workdays(year: int):
    return holidays.Ukraine(years=year, categories=("workday",))


def is_working_day(day: date, holidays_are_days_off: bool | None = None) -> bool:
    if day in _transferred_workdays(day.year):
        return True  # a Saturday made a working day by a transfer
    if day.weekday() >= 5:
        return False
    return not (_days_off(holidays_are_days_off) and day in _public(day.year))


def add_working_days(start: date, days: int, holidays_are_days_off: bool | None = None) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
    off = _days_off(holidays_are_days_off)
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if is_working_day(current, off):
            left -= 1
    return current


def end_of_day(day: date) -> datetime:
    """The last moment of ``day`` in the city, as an aware datetime (deadlines end at midnight)."""
    return datetime.combine(day + timedelta(days=1), time(0), local_tz())


def working_deadline(moment: datetime, days: int, holidays_are_days_off: bool | None = None) -> datetime:
    """Due time ``days`` working days after ``moment`` (end of that day in the city)."""
    local = moment.astimezone(local_tz()).date()
    return end_of_day(add_working_days(local, days, holidays_are_days_off))


def calendar_deadline(day: date, days: int) -> datetime:
    return end_of_day(day + timedelta(days=days))


def local_today(now: datetime | None = None) -> date:
    """Today in the city."""
    zone = local_tz()
    return (now or datetime.now(zone)).astimezone(zone).date()
