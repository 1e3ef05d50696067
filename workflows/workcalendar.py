"""Day counting with an optional working-day calendar.

The escalation policy can count either calendar days or working days.  The
Chinese statutory-holiday calendar (调休 included) lives outside this package
and is passed in as any object with ``is_workday(date) -> bool``; for example
a thin wrapper over ``chinese_calendar.is_workday``.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Optional, Protocol, runtime_checkable


@runtime_checkable
class WorkCalendar(Protocol):
    """Anything that can tell whether a given day is a working day."""

    def is_workday(self, day: date) -> bool:  # pragma: no cover - protocol
        ...


class CalendarDays:
    """Every day counts – the default when ``working_days`` is off."""

    def is_workday(self, day: date) -> bool:
        return True

    def __repr__(self) -> str:
        return "CalendarDays()"


class Weekdays:
    """Monday–Friday, no holidays.  Handy in tests; NOT the official calendar."""

    def is_workday(self, day: date) -> bool:
        return day.weekday() < 5

    def __repr__(self) -> str:
        return "Weekdays()"


def days_between(a: date, b: date, calendar: Optional[WorkCalendar] = None) -> int:
    """Signed number of counted days from ``a`` to ``b``.

    Counts the days in the half-open range ``(a, b]`` that ``calendar`` says
    are working days (all days when ``calendar`` is None or
    :class:`CalendarDays`), negated when ``b < a``.  Half-open because "days
    left" on the due date must be 0 and "days overdue" the day after must be 1;
    with working days, a Friday deadline seen on Monday is 1 day overdue and
    0 on the Saturday in between.
    """
    if calendar is None or isinstance(calendar, CalendarDays):
        return (b - a).days
    sign, lo, hi = (1, a, b) if b >= a else (-1, b, a)
    count = sum(1 for i in range(1, (hi - lo).days + 1)
                if calendar.is_workday(lo + timedelta(days=i)))
    return sign * count
