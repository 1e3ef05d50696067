"""Supervision ladder: levels, automatic sweeps, supervisor moves, refusals."""
import pathlib
import sys
from types import SimpleNamespace

import pytest

# Standalone run without a conftest/pytest.ini: make the project importable.
_ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from workflows import TransitionContext as Ctx  # noqa: E402
from workflows import TransitionRefused, ladder  # noqa: E402

SYSTEM = Ctx("system")
SUP = Ctx("supervisor", comment="会议研究决定")


def task(level="normal"):
    return SimpleNamespace(status="in_progress", ladder=level)


def refused(subject, event, ctx):
    before = dict(vars(subject))
    with pytest.raises(TransitionRefused) as info:
        ladder.fire(subject, event, ctx)
    assert vars(subject) == before
    assert info.value.machine == "ladder"
    return info.value


def test_order_and_levels():
    assert ladder.ORDER == ("normal", "due_soon", "overdue", "escalated", "interview",
                            "accountability")
    assert [ladder.level(s) for s in ladder.ORDER] == [0, 1, 2, 3, 4, 5]
    assert dict(ladder.LADDER_LABELS) == {"normal": "正常", "due_soon": "临期", "overdue": "逾期",
                                          "escalated": "督办", "interview": "约谈",
                                          "accountability": "问责"}
    with pytest.raises(ValueError):
        ladder.level("bogus")


@pytest.mark.parametrize("event,src,dest", [
    ("warn", "normal", "due_soon"), ("lapse", "normal", "overdue"),
    ("lapse", "due_soon", "overdue"), ("escalate", "overdue", "escalated"),
    ("call_interview", "overdue", "interview"), ("call_interview", "escalated", "interview"),
    ("reset", "accountability", "normal"), ("reset", "due_soon", "normal"),
])
def test_system_moves_need_no_reason(event, src, dest):
    t = task(src)
    assert ladder.fire(t, event, SYSTEM) == (src, dest)
    assert t.status == "in_progress"  # never touches the lifecycle


@pytest.mark.parametrize("src", ["normal", "due_soon"])
def test_system_cannot_escalate_before_overdue(src):
    err = refused(task(src), "escalate", SYSTEM)
    assert err.code == "role_forbidden"
    assert str(err) == "“系统”角色不能执行“升级督办”：只有督学可以。"


@pytest.mark.parametrize("src", ["normal", "due_soon", "overdue"])
def test_supervisor_escalates_manually_with_reason(src):
    assert ladder.requires_reason("escalate", "supervisor")
    assert not ladder.requires_reason("escalate", "system")
    assert refused(task(src), "escalate", Ctx("supervisor")).code == "reason_required"
    t = task(src)
    assert ladder.fire(t, "escalate", SUP) == (src, "escalated")


@pytest.mark.parametrize("upper,lower", list(zip(ladder.ORDER[1:], ladder.ORDER)))
def test_deescalate_goes_exactly_one_level_down(upper, lower):
    assert refused(task(upper), "deescalate", Ctx("supervisor", comment=" ")).code == \
        "reason_required"
    assert refused(task(upper), "deescalate", Ctx("system")).code == "role_forbidden"
    t = task(upper)
    assert ladder.fire(t, "deescalate", SUP) == (upper, lower)
    assert ladder.level(t.ladder) == ladder.level(upper) - 1


def test_cannot_deescalate_or_reset_from_normal():
    err = refused(task("normal"), "deescalate", SUP)
    assert str(err) == "任务当前督办等级为“正常”，不能执行“降低督办等级”。"
    assert refused(task("normal"), "reset", SYSTEM).code == "invalid_state"


def test_accountability_is_a_human_decision():
    assert refused(task("interview"), "hold_accountable", SYSTEM).code == "role_forbidden"
    assert refused(task("interview"), "hold_accountable",
                   Ctx("leadership")).code == "reason_required"
    for role in ("supervisor", "leadership"):
        t = task("interview")
        ladder.fire(t, "hold_accountable", Ctx(role, comment="约谈后仍未整改"))
        assert t.ladder == "accountability"
    err = refused(task("escalated"), "hold_accountable", SUP)
    assert err.code == "invalid_state" and "“督办”" in str(err)


def test_reset_by_supervisor_needs_reason():
    assert refused(task("overdue"), "reset", Ctx("supervisor")).code == "reason_required"
    assert ladder.fire(task("overdue"), "reset", SUP) == ("overdue", "normal")


def test_units_and_admins_cannot_move_the_ladder():
    for role in ("unit", "admin"):
        ctx = Ctx(role, actor_unit_id=1, owner_unit_id=1, comment="理由")
        for level in ladder.ORDER:
            assert ladder.allowed_events(level, ctx) == []


@pytest.mark.parametrize("current,target,plan", [
    ("normal", "normal", []),
    ("normal", "due_soon", ["warn"]),
    ("normal", "overdue", ["lapse"]),
    ("due_soon", "overdue", ["lapse"]),
    ("normal", "escalated", ["lapse", "escalate"]),
    ("due_soon", "escalated", ["lapse", "escalate"]),
    ("normal", "interview", ["lapse", "escalate", "call_interview"]),  # every level's audience hears of it
    ("escalated", "interview", ["call_interview"]),
    ("overdue", "interview", ["escalate", "call_interview"]),
    ("escalated", "overdue", []),          # never down
    ("interview", "normal", []),           # never down (reset is separate)
    ("interview", "accountability", []),   # never automatic
])
def test_sweep_events(current, target, plan):
    assert ladder.sweep_events(current, target) == plan


def test_sweep_applies_and_reports_each_step():
    t = task("due_soon")
    assert ladder.sweep(t, "escalated") == [("lapse", "due_soon", "overdue"),
                                            ("escalate", "overdue", "escalated")]
    assert t.ladder == "escalated"
    assert ladder.sweep(t, "overdue") == [] and t.ladder == "escalated"


def test_allowed_events_for_supervisor_on_overdue():
    assert ladder.allowed_events("overdue", Ctx("supervisor")) == \
        ["escalate", "call_interview", "deescalate", "reset"]
    assert ladder.allowed_events("overdue", SYSTEM) == ["escalate", "call_interview", "reset"]
