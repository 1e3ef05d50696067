"""Escalation policy: thresholds, progress rules, colours, reminders, extensions."""
import dataclasses
import json
import pathlib
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

# Standalone run without a conftest/pytest.ini: make the project importable.
_ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from workflows import (DEFAULT_POLICY, CalendarDays, EscalationPolicy, ExtensionRefused,  # noqa: E402
                       PolicyError, Weekdays, WorkCalendar, WorkflowError,
                       check_extension_request, days_between, expected_ladder, is_behind,
                       is_stale, rag, reminder_thresholds_due, schedule_progress)

D = date(2026, 6, 30)


def day(offset, base=D):
    return base + timedelta(days=offset)


# -- expected_ladder ------------------------------------------------------

def _threshold_cases(policy):
    """Day before / day of / day after every threshold of ``policy``."""
    n, e, i = policy.due_soon_days, policy.escalate_after_days, policy.interview_after_days
    yield -(n + 1), "normal"
    yield -n, "due_soon"
    yield -(n - 1) if n > 0 else 0, "due_soon"
    yield 0, "due_soon"          # the due date itself is not overdue
    yield 1, "overdue" if e > 1 else "escalated"   # the day after is overdue day 1
    yield e - 1, "overdue" if e > 1 else "due_soon"
    yield e, "escalated"
    yield e + 1, "escalated" if e + 1 < i else "interview"
    yield i - 1, "escalated"
    yield i, "interview"
    yield i + 1, "interview"
    yield i + 1000, "interview"


POLICIES = [DEFAULT_POLICY,
            EscalationPolicy(due_soon_days=3, escalate_after_days=5, interview_after_days=10),
            EscalationPolicy(due_soon_days=14, escalate_after_days=2, interview_after_days=3)]


@pytest.mark.parametrize("policy,offset,expected",
                         [(p, o, x) for p in POLICIES for o, x in _threshold_cases(p)])
def test_expected_ladder_at_thresholds(policy, offset, expected):
    assert expected_ladder(D, day(offset), False, policy) == expected
    assert expected_ladder(D, day(offset), True, policy) == "normal"


def test_expected_ladder_default_table():
    table = {-8: "normal", -7: "due_soon", -6: "due_soon", 0: "due_soon", 1: "overdue",
             6: "overdue", 7: "escalated", 8: "escalated", 29: "escalated", 30: "interview",
             31: "interview", -365: "normal"}
    assert {o: expected_ladder(D, day(o), False) for o in table} == table


def test_due_soon_zero_only_flags_the_due_date():
    policy = EscalationPolicy(due_soon_days=0)
    assert expected_ladder(D, day(-1), False, policy) == "normal"
    assert expected_ladder(D, D, False, policy) == "due_soon"


def test_expected_ladder_never_reaches_accountability():
    assert {expected_ladder(D, day(o), False) for o in range(-60, 3000, 7)} <= \
        {"normal", "due_soon", "overdue", "escalated", "interview"}


# -- working days ---------------------------------------------------------

FRI = date(2026, 11, 27)


class Holidays:
    """Weekdays minus a few holidays – shape of the real Chinese calendar."""

    def __init__(self, *days):
        self.off = set(days)

    def is_workday(self, d):
        return d.weekday() < 5 and d not in self.off


def test_days_between_conventions():
    assert days_between(D, D) == 0 and days_between(D, day(1)) == 1
    assert days_between(day(3), D) == -3
    cal = Weekdays()
    assert isinstance(cal, WorkCalendar) and isinstance(CalendarDays(), WorkCalendar)
    assert days_between(FRI, FRI + timedelta(1), cal) == 0      # Saturday
    assert days_between(FRI, FRI + timedelta(3), cal) == 1      # Monday
    assert days_between(FRI + timedelta(3), FRI, cal) == -1
    assert days_between(FRI, FRI + timedelta(3), CalendarDays()) == 3


def test_working_day_ladder():
    policy = EscalationPolicy(working_days=True)
    cal = Weekdays()
    assert expected_ladder(FRI, date(2026, 11, 28), False, policy, calendar=cal) == "overdue"
    assert expected_ladder(FRI, date(2026, 12, 7), False, policy, calendar=cal) == "overdue"
    assert expected_ladder(FRI, date(2026, 12, 8), False, policy, calendar=cal) == "escalated"
    # 7 working days before Friday 27th is Wednesday 18th (calendar days: 20th).
    assert expected_ladder(FRI, date(2026, 11, 18), False, policy, calendar=cal) == "due_soon"
    assert expected_ladder(FRI, date(2026, 11, 17), False, policy, calendar=cal) == "normal"
    assert expected_ladder(FRI, date(2026, 11, 18), False) == "normal"
    # A holiday on Tuesday 1st pushes escalation one working day later.
    hol = Holidays(date(2026, 12, 1))
    assert expected_ladder(FRI, date(2026, 12, 8), False, policy, calendar=hol) == "overdue"
    assert expected_ladder(FRI, date(2026, 12, 9), False, policy, calendar=hol) == "escalated"


def test_working_days_without_calendar_is_a_loud_error():
    policy = EscalationPolicy(working_days=True)
    with pytest.raises(PolicyError) as info:
        expected_ladder(FRI, FRI, False, policy)
    assert "工作日历" in str(info.value) and info.value.field == "working_days"
    # A calendar is ignored when working days are off.
    assert expected_ladder(FRI, date(2026, 12, 4), False, calendar=Weekdays()) == "escalated"


# -- 序时进度, behind, stale ----------------------------------------------

S, E = date(2026, 1, 1), date(2026, 1, 11)  # a 10-day task


@pytest.mark.parametrize("today,expected", [(date(2025, 12, 1), 0.0), (S, 0.0),
                                            (date(2026, 1, 2), 0.1), (date(2026, 1, 6), 0.5),
                                            (E, 1.0), (date(2026, 3, 1), 1.0)])
def test_schedule_progress(today, expected):
    assert schedule_progress(S, E, today) == pytest.approx(expected)


def test_schedule_progress_one_day_task():
    assert schedule_progress(S, S, day(-1, S)) == 0.0
    assert schedule_progress(S, S, S) == 1.0


@pytest.mark.parametrize("reported,behind", [(35, False), (Decimal("35"), False), (35.0, False),
                                             (34.9, True), (34, True), (36, False), (0, True),
                                             (None, True), (100, False), (150, False)])
def test_is_behind_at_the_tolerance(reported, behind):
    # Halfway through: 序时进度 0.5, tolerance 0.15 → lagging at 35% is exactly on the line.
    assert is_behind(reported, S, E, date(2026, 1, 6)) is behind


def test_is_behind_edges():
    assert not is_behind(0, S, E, day(-1, S))           # not started yet
    strict = EscalationPolicy(behind_tolerance=0)
    assert is_behind(49.99, S, E, date(2026, 1, 6), strict)
    assert not is_behind(50, S, E, date(2026, 1, 6), strict)


def test_is_stale():
    start = date(2026, 3, 1)
    assert not is_stale(None, start, day(30, start))
    assert is_stale(None, start, day(31, start))
    last = date(2026, 5, 10)
    assert not is_stale(last, start, day(30, last))
    assert is_stale(last, start, day(31, last))
    assert is_stale(datetime(2026, 5, 10, 23, 59), start, day(31, last))
    assert not is_stale(None, start, day(-5, start))    # not started
    assert not is_stale(last, start, last)
    short = EscalationPolicy(stale_days=7)
    assert is_stale(last, start, day(8, last), short) and not is_stale(last, start, day(7, last), short)


# -- RAG colour -----------------------------------------------------------

@pytest.mark.parametrize("ladder,behind,stale,completed,colour", [
    ("normal", False, False, False, "green"),
    ("normal", True, False, False, "yellow"),
    ("normal", False, True, False, "yellow"),
    ("due_soon", False, False, False, "yellow"),
    ("overdue", False, False, False, "red"),
    ("overdue", True, True, False, "red"),
    ("escalated", False, False, False, "escalated"),
    ("interview", True, False, False, "escalated"),
    ("accountability", False, False, False, "escalated"),
    ("overdue", True, True, True, "green"),
    ("accountability", False, False, True, "green"),
])
def test_rag(ladder, behind, stale, completed, colour):
    assert rag(ladder, behind, stale, completed) == colour


def test_rag_rejects_unknown_ladder():
    with pytest.raises(ValueError):
        rag("purple", False, False, False)


# -- reminders ------------------------------------------------------------

@pytest.mark.parametrize("offset,due", [(-31, []), (-30, [30]), (-29, [30]), (-8, [30]),
                                        (-7, [30, 7]), (-2, [30, 7]), (-1, [30, 7, 1]),
                                        (0, [30, 7, 1]), (1, []), (40, [])])
def test_reminder_thresholds_due(offset, due):
    assert reminder_thresholds_due(D, day(offset)) == due


def test_reminder_catch_up_after_downtime():
    sent = {30}  # the scheduler was down between D-29 and D-2
    assert [d for d in reminder_thresholds_due(D, day(-1)) if d not in sent] == [7, 1]


def test_reminders_in_working_days():
    policy = EscalationPolicy(reminder_days=(1,), working_days=True)
    # Deadline Monday; Friday before is 1 working day out.
    monday = date(2026, 11, 30)
    assert reminder_thresholds_due(monday, FRI, policy, calendar=Weekdays()) == [1]
    assert reminder_thresholds_due(monday, day(-1, FRI), policy, calendar=Weekdays()) == []


# -- extensions -----------------------------------------------------------

def test_extension_rules():
    assert check_extension_request(D, D, day(90)) is False
    assert check_extension_request(D, day(-10), day(91)) is True
    assert check_extension_request(D, day(-10), day(1)) is False
    with pytest.raises(ExtensionRefused) as info:
        check_extension_request(D, day(1), day(30))
    assert info.value.code == "overdue" and "已逾期，不能申请延期" in str(info.value)
    assert isinstance(info.value, WorkflowError)
    for new in (D, day(-1)):
        with pytest.raises(ExtensionRefused) as info:
            check_extension_request(D, day(-5), new)
        assert info.value.code == "not_later"
        assert "必须晚于原完成时限（2026年6月30日）" in str(info.value)


def test_extension_limit_is_configurable():
    policy = EscalationPolicy(extension_limit_days=10)
    assert check_extension_request(D, D, day(10), policy) is False
    assert check_extension_request(D, D, day(11), policy) is True


# -- EscalationPolicy as data ---------------------------------------------

def test_defaults_and_round_trip():
    p = EscalationPolicy()
    assert (p.reminder_days, p.due_soon_days, p.escalate_after_days, p.interview_after_days,
            p.behind_tolerance, p.stale_days, p.extension_limit_days, p.working_days) == \
        ((30, 7, 1), 7, 7, 30, 0.15, 30, 90, False)
    data = p.to_mapping()
    assert json.loads(json.dumps(data)) == data
    assert EscalationPolicy.from_mapping(data) == p
    assert EscalationPolicy.from_mapping({}) == p
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.due_soon_days = 3


def test_from_mapping_coerces_form_strings():
    p = EscalationPolicy.from_mapping({"due_soon_days": " 5 ", "reminder_days": "1，30、7,7",
                                       "behind_tolerance": "0.2", "working_days": "是",
                                       "stale_days": 14.0})
    assert p.due_soon_days == 5 and p.reminder_days == (30, 7, 1)
    assert p.behind_tolerance == 0.2 and p.working_days is True and p.stale_days == 14
    assert EscalationPolicy(reminder_days=[]).reminder_days == ()


@pytest.mark.parametrize("data,field,fragment", [
    ({"foo": 1}, "foo", "未知的督办策略项：foo"),
    ({"due_soon_days": -1}, "due_soon_days", "“临期天数”不能小于 0"),
    ({"due_soon_days": "abc"}, "due_soon_days", "“临期天数”必须是整数"),
    ({"due_soon_days": True}, "due_soon_days", "必须是整数"),
    ({"due_soon_days": None}, "due_soon_days", "必须是整数"),
    ({"due_soon_days": 1.5}, "due_soon_days", "必须是整数"),
    ({"escalate_after_days": 0}, "escalate_after_days", "“逾期转督办天数”不能小于 1"),
    ({"interview_after_days": 7}, "interview_after_days", "必须大于“逾期转督办天数”"),
    ({"escalate_after_days": 40}, "interview_after_days", "必须大于"),
    ({"behind_tolerance": 1.5}, "behind_tolerance", "0（含）到 1（不含）"),
    ({"behind_tolerance": -0.1}, "behind_tolerance", "0（含）到 1（不含）"),
    ({"behind_tolerance": "abc"}, "behind_tolerance", "必须是数字"),
    ({"behind_tolerance": float("nan")}, "behind_tolerance", "必须是数字"),
    ({"stale_days": 0}, "stale_days", "“进展停更天数”不能小于 1"),
    ({"extension_limit_days": "0"}, "extension_limit_days", "不能小于 1"),
    ({"reminder_days": 5}, "reminder_days", "必须是天数列表"),
    ({"reminder_days": [30, -1]}, "reminder_days", "不能小于 0"),
    ({"reminder_days": "30,x"}, "reminder_days", "必须是整数"),
    ({"working_days": "maybe"}, "working_days", "“按工作日计算”必须是“是”或“否”"),
    ({"working_days": 2}, "working_days", "必须是“是”或“否”"),
])
def test_from_mapping_validation(data, field, fragment):
    with pytest.raises(PolicyError) as info:
        EscalationPolicy.from_mapping(data)
    assert info.value.field == field
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, WorkflowError)


def test_from_mapping_rejects_non_mapping():
    with pytest.raises(PolicyError) as info:
        EscalationPolicy.from_mapping([("due_soon_days", 3)])
    assert "必须是键值对" in str(info.value)
