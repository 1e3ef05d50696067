"""Task lifecycle: messages, ownership, reasons, guards and UI helpers."""
import pathlib
import sys
from types import SimpleNamespace

import pytest

# Standalone run without a conftest/pytest.ini: make the project importable.
_ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from workflows import TransitionContext as Ctx  # noqa: E402
from workflows import TransitionRefused, lifecycle  # noqa: E402


def task(status="assigned"):
    return SimpleNamespace(status=status, ladder="normal", unit_id=7)


def owner(**kw):
    return Ctx("unit", actor_unit_id=7, owner_unit_id=7, **kw)


READY = dict(progress_count=1, evidence_count=1)


def refused(subject, event, ctx):
    before = dict(vars(subject))
    with pytest.raises(TransitionRefused) as info:
        lifecycle.fire(subject, event, ctx)
    assert vars(subject) == before, "a refused event must change nothing"
    return info.value


def test_exact_messages_from_the_brief():
    assert str(refused(task("assigned"), "submit", owner(**READY))) == \
        "任务当前状态为“待签收”，不能执行“报送”。"
    assert str(refused(task("assigned"), "accept", Ctx("supervisor"))) == \
        "“督学”角色不能执行“签收”：只有责任单位经办人可以。"
    assert str(refused(task("in_progress"), "submit", owner())) == \
        "报送前至少需要一条进展报告和一份佐证材料。"


def test_happy_path_and_return_loop():
    t = task()
    sup = Ctx("supervisor")
    assert lifecycle.fire(t, "accept", owner()) == ("assigned", "in_progress")
    assert lifecycle.fire(t, "submit", owner(**READY)) == ("in_progress", "submitted")
    assert lifecycle.fire(t, "return", Ctx("supervisor", comment="佐证不足")) == \
        ("submitted", "returned")
    assert lifecycle.fire(t, "resume", owner()) == ("returned", "in_progress")
    lifecycle.fire(t, "submit", owner(**READY, indicators_ok=True))
    assert lifecycle.fire(t, "verify", sup) == ("submitted", "completed")
    assert lifecycle.fire(t, "reopen", Ctx("system", comment="指标复核未通过")) == \
        ("completed", "in_progress")
    assert t.ladder == "normal"  # the lifecycle never touches the ladder


@pytest.mark.parametrize("event,state", [("accept", "assigned"), ("submit", "in_progress"),
                                         ("resume", "returned")])
@pytest.mark.parametrize("actor,owner_id", [(8, 7), (None, 7), (None, None), (7, None)])
def test_unit_may_only_act_on_its_own_tasks(event, state, actor, owner_id):
    ctx = Ctx("unit", actor_unit_id=actor, owner_unit_id=owner_id, **READY)
    err = refused(task(state), event, ctx)
    assert err.code == "not_owner"
    assert "不是本任务的责任单位" in str(err)
    assert lifecycle.allowed_events(state, ctx) == []


REASON_CASES = [(r.event, s, role) for r in lifecycle.RULES if r.reason_required
                for s in r.sources for role in sorted(r.roles)]


@pytest.mark.parametrize("event,state,role", REASON_CASES)
@pytest.mark.parametrize("comment", ["", "   ", "\n\t"])
def test_reason_required(event, state, role, comment):
    err = refused(task(state), event, Ctx(role, comment=comment))
    assert err.code == "reason_required"
    assert str(err) == f"执行“{lifecycle.EVENT_LABELS[event]}”必须填写理由。"
    assert lifecycle.requires_reason(event, role)
    # The button is still offered: the reason is typed in the dialog it opens.
    assert event in lifecycle.allowed_events(state, Ctx(role))
    subject = task(state)
    lifecycle.fire(subject, event, Ctx(role, comment="情况说明"))
    assert subject.status == lifecycle.check(state, event, Ctx(role, comment="情况说明"))


def test_events_without_reason():
    for event, role in [("accept", "unit"), ("submit", "unit"), ("verify", "supervisor"),
                        ("resume", "unit"), ("restore", "admin")]:
        assert not lifecycle.requires_reason(event, role)
    assert not lifecycle.requires_reason("return", "unit")  # not its event at all


@pytest.mark.parametrize("progress,evidence", [(0, 0), (1, 0), (0, 1), (0, 5), (5, 0)])
def test_submit_needs_progress_and_evidence(progress, evidence):
    ctx = owner(progress_count=progress, evidence_count=evidence, indicators_ok=True)
    err = refused(task("in_progress"), "submit", ctx)
    assert err.code == "missing_progress_or_evidence"
    assert lifecycle.allowed_events("in_progress", ctx) == []


@pytest.mark.parametrize("indicators_ok,allowed", [(None, True), (True, True), (False, False)])
def test_indicators_gate_submit_and_verify(indicators_ok, allowed):
    cases = [("in_progress", "submit", owner(**READY, indicators_ok=indicators_ok)),
             ("submitted", "verify", Ctx("supervisor", indicators_ok=indicators_ok))]
    for state, event, ctx in cases:
        if allowed:
            lifecycle.fire(task(state), event, ctx)
        else:
            err = refused(task(state), event, ctx)
            assert err.code == "indicators_failed"
            assert str(err) == f"指标数据未通过校验，不能执行“{lifecycle.EVENT_LABELS[event]}”。"


def test_indicator_failure_does_not_block_return():
    ctx = Ctx("supervisor", indicators_ok=False)
    assert lifecycle.allowed_events("submitted", ctx) == ["return"]


def test_guard_order_state_before_role_before_guards():
    # Wrong state wins over wrong role; wrong role wins over missing evidence.
    assert refused(task("completed"), "submit", Ctx("admin")).code == "invalid_state"
    assert refused(task("in_progress"), "submit", Ctx("admin")).code == "role_forbidden"


@pytest.mark.parametrize("state,ctx,expected", [
    ("assigned", owner(), ["accept"]),
    ("in_progress", owner(), []),
    ("in_progress", owner(**READY), ["submit"]),
    ("submitted", Ctx("supervisor"), ["verify", "return"]),
    ("submitted", Ctx("admin"), ["suspend", "cancel"]),
    ("suspended", Ctx("admin"), ["cancel", "restore"]),
    ("completed", Ctx("supervisor"), ["reopen"]),
    ("completed", Ctx("system"), ["reopen"]),
    ("completed", Ctx("admin"), []),
    ("cancelled", Ctx("admin"), []),
    ("returned", owner(), ["resume"]),
    ("assigned", Ctx("leadership"), []),
])
def test_allowed_events(state, ctx, expected):
    assert lifecycle.allowed_events(state, ctx) == expected


def test_refusal_carries_machine_readable_fields():
    err = refused(task("assigned"), "verify", Ctx("supervisor"))
    assert err.to_dict() == {"machine": "lifecycle", "event": "verify", "state": "assigned",
                             "role": "supervisor", "code": "invalid_state",
                             "message": "任务当前状态为“待签收”，不能执行“办结”。"}
    assert lifecycle.refusal("assigned", "verify", Ctx("supervisor")).code == "invalid_state"
    assert lifecycle.refusal("assigned", "accept", owner()) is None


def test_unknown_role_is_named_in_message():
    err = refused(task("assigned"), "accept", Ctx("guest"))
    assert err.code == "role_forbidden" and "“guest”角色不能执行“签收”" in str(err)


def test_multiple_allowed_roles_are_listed():
    err = refused(task("completed"), "reopen", Ctx("unit", 7, 7, comment="x"))
    assert str(err) == "“责任单位经办人”角色不能执行“重新打开”：只有督学或系统可以。"


def test_direct_machine_trigger_is_still_guarded():
    """Even bypassing fire(), the shared Machine's conditions enforce the rules."""
    t = task("in_progress")
    assert lifecycle.MACHINE.events["submit"].trigger(t, ctx=owner()) is False
    assert t.status == "in_progress"
    assert lifecycle.MACHINE.events["submit"].trigger(t, ctx=owner(**READY)) is True
    assert t.status == "submitted"


def test_terminal_and_open_states():
    assert lifecycle.TERMINAL_STATES == {"completed", "cancelled"}
    cancel_sources = {s for r in lifecycle.RULES if r.event == "cancel" for s in r.sources}
    assert cancel_sources == set(lifecycle.STATES) - lifecycle.TERMINAL_STATES
    assert "suspended" in cancel_sources


def test_works_on_any_object_with_status():
    class Row:  # stands in for a SQLAlchemy model instance
        __slots__ = ("status", "id")

        def __init__(self):
            self.status, self.id = "assigned", 1

    row = Row()
    assert lifecycle.fire(row, "accept", owner()) == ("assigned", "in_progress")
    assert row.status == "in_progress" and row.id == 1
    assert not hasattr(row, "accept")  # no trigger methods were bolted on
