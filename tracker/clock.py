"""Injected time. Every rule asks the clock, so demos, tests and cron users can move time."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask, current_app

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class Clock:
    """Real time; `now()` is timezone-aware UTC, `today()` is the date in China."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self) -> date:
        return self.now().astimezone(LOCAL_TZ).date()


class FixedClock(Clock):
    """A clock standing at one instant until moved (tests, `scheduler tick --now`, demos)."""

    def __init__(self, instant: datetime):
        self.set(instant)

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=LOCAL_TZ)
        self._now = instant.astimezone(timezone.utc)

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self._now += timedelta(**delta)

    def now(self) -> datetime:
        return self._now


def parse_instant(text: str) -> datetime:
    """'2026-03-01T09:00' (China time unless an offset is given) → aware datetime."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)


def init_app(app: Flask) -> None:
    if "clock" not in app.extensions:
        fixed = app.config.get("CLOCK_NOW")
        app.extensions["clock"] = FixedClock(parse_instant(fixed)) if fixed else Clock()


def get_clock() -> Clock:
    return current_app.extensions["clock"]


def utcnow() -> datetime:
    """Naive UTC 'now' for DB columns (stored naive UTC on every backend)."""
    return get_clock().now().astimezone(timezone.utc).replace(tzinfo=None)


def today() -> date:
    return get_clock().today()
