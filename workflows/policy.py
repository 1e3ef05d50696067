"""Escalation policy as data, plus the pure date rules that use it.

:class:`EscalationPolicy` is an immutable value that can round-trip through a
dict (config file, settings table, admin form) with Chinese validation errors.
The functions below never touch a database or the clock: callers pass
``today`` so the scheduler, the UI and the tests all agree.

Day-counting conventions (see :func:`workflows.workcalendar.days_between`):

* the due date itself is the last working day of the task – never overdue;
* the day after the due date is overdue day 1;
* with ``working_days=True`` every count below uses the calendar passed in as
  ``calendar=`` (required then), otherwise plain calendar days.  Only
  :func:`schedule_progress`/:func:`is_behind` always use calendar days,
  because 序时进度 is conventionally a share of the calendar period.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from types import MappingProxyType
from typing import Mapping, Optional

from .errors import ExtensionRefused, PolicyError
from .i18n import N_, _, _l
from .ladder import LADDER_LABELS
from .workcalendar import WorkCalendar, days_between

FIELD_LABELS = MappingProxyType({
    "reminder_days": _l("到期提醒节点（天）"),
    "due_soon_days": _l("临期天数"),
    "escalate_after_days": _l("逾期转督办天数"),
    "interview_after_days": _l("逾期转约谈天数"),
    "behind_tolerance": _l("进度滞后容差"),
    "stale_days": _l("进展停更天数"),
    "extension_limit_days": _l("延期免审批上限（天）"),
    "working_days": _l("按工作日计算"),
})
# Smallest allowed value of each integer field.
_INT_MIN = {"due_soon_days": 0, "escalate_after_days": 1, "interview_after_days": 1,
            "stale_days": 1, "extension_limit_days": 1}
_TRUE = {"true", "1", "yes", "y", "on", "是"}  # i18n: data
_FALSE = {"false", "0", "no", "n", "off", "否"}  # i18n: data


def _label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


def _to_int(name: str, value, minimum: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(_("“%(field)s”必须是整数，收到：%(value)r。", field=_label(name), value=value), field=name)
    if value < minimum:
        raise PolicyError(_("“%(field)s”不能小于 %(minimum)s，收到：%(value)s。", field=_label(name),
                            minimum=minimum, value=value), field=name)
    return value


def _to_days(value) -> tuple:
    name = "reminder_days"
    if isinstance(value, str):
        # Admin forms type "30,7,1" (or with Chinese punctuation).
        value = [p for p in re.split(r"[,，、;；\s]+", value) if p]  # i18n: data
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise PolicyError(_("“%(field)s”必须是天数列表，例如 [30, 7, 1]，收到：%(value)r。", field=_label(name),
                            value=value), field=name)
    return tuple(sorted({_to_int(name, v, 0) for v in value}, reverse=True))


def _to_tolerance(value) -> float:
    name = "behind_tolerance"
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PolicyError(_("“%(field)s”必须是数字，收到：%(value)r。", field=_label(name), value=value), field=name)
    if not 0 <= value < 1:
        raise PolicyError(_("“%(field)s”必须在 0（含）到 1（不含）之间，例如 0.15 表示 15%%，收到：%(value)s。",
                            field=_label(name), value=value), field=name)
    return float(value)


def _to_bool(value) -> bool:
    name = "working_days"
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise PolicyError(_("“%(field)s”必须是“是”或“否”，收到：%(value)r。", field=_label(name), value=value),
                      field=name)


@dataclass(frozen=True)
class EscalationPolicy:
    """Thresholds for reminders, the ladder, progress checks and extensions.

    Values are validated (and strings from forms coerced) on construction, so
    an instance is always usable.  ``reminder_days`` is normalised to a
    de-duplicated tuple sorted from the earliest reminder (largest) down.
    """

    reminder_days: tuple = (30, 7, 1)     # remind this many days before the deadline
    due_soon_days: int = 7                # 临期 when at most this many days are left
    escalate_after_days: int = 7          # 逾期 this many days → 督办
    interview_after_days: int = 30        # 逾期 this many days → 约谈
    behind_tolerance: float = 0.15        # allowed lag behind 序时进度 (0.15 = 15 points)
    stale_days: int = 30                  # no progress for MORE than this → stale
    extension_limit_days: int = 90        # longer extensions need 领导小组 approval
    working_days: bool = False            # count working days instead of calendar days

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen dataclass: normalise in place once
        put(self, "reminder_days", _to_days(self.reminder_days))
        for name, minimum in _INT_MIN.items():
            put(self, name, _to_int(name, getattr(self, name), minimum))
        put(self, "behind_tolerance", _to_tolerance(self.behind_tolerance))
        put(self, "working_days", _to_bool(self.working_days))
        if self.interview_after_days <= self.escalate_after_days:
            raise PolicyError(_("“%(field)s”（%(value)s）必须大于“%(other)s”（%(other_value)s）。",
                                field=_label("interview_after_days"), value=self.interview_after_days,
                                other=_label("escalate_after_days"), other_value=self.escalate_after_days),
                              field="interview_after_days")

    @classmethod
    def from_mapping(cls, data: Mapping) -> "EscalationPolicy":
        """Build from a dict; missing keys keep their defaults, unknown keys are errors."""
        if not isinstance(data, Mapping):
            raise PolicyError(_("督办策略配置必须是键值对，收到：%(type)s。", type=type(data).__name__))
        unknown = sorted(str(k) for k in data if k not in FIELD_LABELS)
        if unknown:
            raise PolicyError(_("未知的督办策略项：%(keys)s。", keys=_("、").join(unknown)), field=unknown[0])
        return cls(**data)

    def to_mapping(self) -> dict:
        """JSON-friendly dict that :meth:`from_mapping` accepts back."""
        data = dataclasses.asdict(self)
        data["reminder_days"] = list(self.reminder_days)
        return data


DEFAULT_POLICY = EscalationPolicy()


def _as_date(value) -> date:
    # Timestamps (e.g. a progress report's created_at) count by their day.
    return value.date() if isinstance(value, datetime) else value


def _calendar(policy: EscalationPolicy, calendar: Optional[WorkCalendar]):
    if not policy.working_days:
        return None
    if calendar is None:
        # Silently falling back to calendar days would mis-time every
        # escalation around 国庆/春节; make the wiring mistake loud instead.
        raise PolicyError(_("已启用“按工作日计算”，但没有提供工作日历。"), field="working_days")
    return calendar


def expected_ladder(deadline: date, today: date, completed: bool,
                    policy: EscalationPolicy = DEFAULT_POLICY, *,
                    calendar: Optional[WorkCalendar] = None) -> str:
    """Ladder level the automatic sweep should bring a task up to.

    * completed → ``normal`` (the only automatic downward move: reset);
    * ``today <= deadline`` with at most ``due_soon_days`` left → ``due_soon``
      (the due date itself, 0 days left, is due_soon, not overdue);
    * after the deadline: overdue day ``n`` = days counted from the deadline;
      ``n >= interview_after_days`` → ``interview``, ``n >= escalate_after_days``
      → ``escalated``, else ``overdue``.

    Never returns ``accountability`` – that is always a human decision.  The
    sweep must only move UP to this level (``ladder.sweep_events`` does so).
    """
    if completed:
        return "normal"
    deadline, today = _as_date(deadline), _as_date(today)
    cal = _calendar(policy, calendar)
    if today > deadline:
        late = days_between(deadline, today, cal)
        if late >= policy.interview_after_days:
            return "interview"
        if late >= policy.escalate_after_days:
            return "escalated"
        return "overdue"
    if days_between(today, deadline, cal) <= policy.due_soon_days:
        return "due_soon"
    return "normal"


def _elapsed_share(start: date, deadline: date, today: date) -> Fraction:
    start, deadline, today = _as_date(start), _as_date(deadline), _as_date(today)
    total = (deadline - start).days
    if total <= 0:  # one-day (or mis-dated) task: all due on the deadline
        return Fraction(1 if today >= deadline else 0)
    return Fraction(min(max((today - start).days, 0), total), total)


def schedule_progress(start: date, deadline: date, today: date) -> float:
    """序时进度: elapsed share of ``start``→``deadline``, clamped to 0..1.

    0 on the start day and before it, 1 on the deadline and after it.
    """
    return float(_elapsed_share(start, deadline, today))


def is_behind(reported_percent, start: date, deadline: date, today: date,
              policy: EscalationPolicy = DEFAULT_POLICY) -> bool:
    """True when reported progress (0–100, None = 0) lags 序时进度 by MORE than
    ``policy.behind_tolerance``.  Computed exactly, so a lag of exactly the
    tolerance is not behind.
    """
    # str() first so 35.1 means the decimal 35.1, not its binary approximation.
    reported = min(max(Fraction(str(reported_percent or 0)) / 100, Fraction(0)), Fraction(1))
    lag = _elapsed_share(start, deadline, today) - reported
    return lag > Fraction(str(policy.behind_tolerance))


def is_stale(last_progress: Optional[date], start: date, today: date,
             policy: EscalationPolicy = DEFAULT_POLICY, *,
             calendar: Optional[WorkCalendar] = None) -> bool:
    """True when MORE than ``stale_days`` passed since the last progress report
    (or since ``start`` if there was none) – "超过N天未报送进展".
    """
    ref = _as_date(last_progress) if last_progress is not None else _as_date(start)
    today = _as_date(today)
    if today <= ref:
        return False
    return days_between(ref, today, _calendar(policy, calendar)) > policy.stale_days


RAG_LABELS = MappingProxyType({"green": _l("正常"), "yellow": _l("预警"), "red": _l("逾期"),
                               "escalated": _l("督办")})


def rag(ladder: str, behind: bool, stale: bool, completed: bool) -> str:
    """List colour: ``'green' | 'yellow' | 'red' | 'escalated'``.

    Precedence: completed → green; escalated/interview/accountability →
    escalated; overdue → red; due_soon or behind or stale → yellow; else green.
    """
    if ladder not in LADDER_LABELS:
        raise ValueError(_("未知的督办等级：%(level)r", level=ladder))
    if completed:
        return "green"
    if ladder in ("escalated", "interview", "accountability"):
        return "escalated"
    if ladder == "overdue":
        return "red"
    if ladder == "due_soon" or behind or stale:
        return "yellow"
    return "green"


def reminder_thresholds_due(deadline: date, today: date,
                            policy: EscalationPolicy = DEFAULT_POLICY, *,
                            calendar: Optional[WorkCalendar] = None) -> list:
    """Reminder thresholds whose moment has come while the deadline has not passed.

    Threshold ``d`` is due once at most ``d`` days are left (so on the due
    date every threshold is due; after it none are).  Returned largest first.
    The caller subtracts the reminders already sent, which lets a scheduler
    that was down for a while catch up without re-sending.
    """
    deadline, today = _as_date(deadline), _as_date(today)
    if today > deadline:
        return []
    left = days_between(today, deadline, _calendar(policy, calendar))
    return [d for d in policy.reminder_days if left <= d]


_MONTHS = (N_("1月"), N_("2月"), N_("3月"), N_("4月"), N_("5月"), N_("6月"),
           N_("7月"), N_("8月"), N_("9月"), N_("10月"), N_("11月"), N_("12月"))


def _cn(day: date) -> str:
    """2025年12月31日, or 31 Dec 2025 in English."""
    return _("%(year)d年%(month)s%(day)d日", year=day.year, month=_(_MONTHS[day.month - 1]), day=day.day)


def check_extension_request(deadline: date, today: date, new_deadline: date,
                            policy: EscalationPolicy = DEFAULT_POLICY, *,
                            calendar: Optional[WorkCalendar] = None) -> bool:
    """Validate a 延期 request; return True if it needs 领导小组 approval.

    Refused (``ExtensionRefused``) once the deadline has passed – the due date
    itself still allows a request – or if ``new_deadline`` is not later than
    ``deadline``.  An extension of exactly ``extension_limit_days`` needs no
    leadership approval; one day more does.
    """
    deadline, today, new_deadline = _as_date(deadline), _as_date(today), _as_date(new_deadline)
    if today > deadline:
        raise ExtensionRefused(_("任务已逾期，不能申请延期（原完成时限为%(deadline)s）。", deadline=_cn(deadline)),
                               code="overdue")
    if new_deadline <= deadline:
        raise ExtensionRefused(_("新的完成时限（%(new)s）必须晚于原完成时限（%(deadline)s）。",
                                 new=_cn(new_deadline), deadline=_cn(deadline)), code="not_later")
    return days_between(deadline, new_deadline, _calendar(policy, calendar)) > policy.extension_limit_days
