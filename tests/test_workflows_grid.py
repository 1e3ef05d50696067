"""Every event × every state × every role, for both machines.

The expected outcome of each cell is derived from the declared ``RULES``
tables (not copied by hand), so adding a rule automatically adds its tests.
"""
import pathlib
import sys
from types import SimpleNamespace

import pytest

# Standalone run without a conftest/pytest.ini: make the project importable.
_ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from workflows import ROLE_LABELS, TransitionContext, TransitionRefused, WorkflowError  # noqa: E402
from workflows import ladder, lifecycle  # noqa: E402

MACHINES = {"lifecycle": lifecycle, "ladder": ladder}


def _satisfying_ctx(role):
    """A context that passes ownership, reason and every guard – only the
    role and the state can make it fail."""
    return TransitionContext(role, actor_unit_id=7, owner_unit_id=7, progress_count=1,
                             evidence_count=1, indicators_ok=True, comment="按计划调整")


def _expected(module, state, event, role):
    candidates = [r for r in module.RULES if r.event == event and state in r.sources]
    if not candidates:
        return ("refused", "invalid_state", frozenset())
    roles = frozenset().union(*(r.roles for r in candidates))
    if role not in roles:
        return ("refused", "role_forbidden", roles)
    (dest,) = {r.dest for r in candidates if role in r.roles}
    return ("allowed", dest, roles)


def _cells():
    for name, module in MACHINES.items():
        for event in module.EVENTS:
            for state in module.STATES:
                for role in ROLE_LABELS:
                    yield pytest.param(name, event, state, role,
                                       id=f"{name}-{event}-{state}-{role}")


def _workflow(module):
    return module.LADDER if module is ladder else module.LIFECYCLE


def _subject(module, state):
    # Both attributes present so we can see a machine never touches the other's.
    fields = {"status": "in_progress", "ladder": "normal", "title": "示例任务"}
    fields[_workflow(module).attribute] = state
    return SimpleNamespace(**fields)


@pytest.mark.parametrize("name,event,state,role", list(_cells()))
def test_every_event_state_role(name, event, state, role):
    module = MACHINES[name]
    workflow = _workflow(module)
    subject = _subject(module, state)
    before = dict(vars(subject))
    outcome, detail, roles = _expected(module, state, event, role)
    ctx = _satisfying_ctx(role)

    if outcome == "allowed":
        assert module.fire(subject, event, ctx) == (state, detail)
        after = dict(vars(subject))
        assert after.pop(workflow.attribute) == detail
        before.pop(workflow.attribute)
        assert after == before  # nothing else touched
        assert event in module.allowed_events(state, ctx)
        return

    with pytest.raises(TransitionRefused) as info:
        module.fire(subject, event, ctx)
    err = info.value
    assert vars(subject) == before
    assert isinstance(err, WorkflowError)
    assert (err.machine, err.event, err.state, err.role, err.code) == (name, event, state, role,
                                                                      detail)
    assert event not in module.allowed_events(state, ctx)
    event_label = workflow.event_labels[event]
    assert f"“{event_label}”" in str(err)
    if detail == "invalid_state":
        assert f"“{workflow.state_labels[state]}”" in str(err)
    else:
        assert str(err).startswith(f"“{ROLE_LABELS[role]}”角色不能执行“{event_label}”：只有")
        for allowed_role in roles:
            assert str(ROLE_LABELS[allowed_role]) in str(err)


@pytest.mark.parametrize("name", MACHINES)
def test_machine_matches_declaration(name):
    module = MACHINES[name]
    machine = module.MACHINE
    assert machine.model_attribute == ("ladder" if module is ladder else "status")
    assert machine.auto_transitions is False
    assert set(machine.states) == set(module.STATES)
    assert set(machine.events) == set(module.EVENTS)
    for event in module.EVENTS:
        declared = {(s, r.dest) for r in module.RULES if r.event == event for s in r.sources}
        built = {(t.source, t.dest) for ts in machine.events[event].transitions.values()
                 for t in ts}
        assert built == declared


@pytest.mark.parametrize("name", MACHINES)
def test_no_model_is_ever_registered(name):
    """Firing on many objects must not grow the shared machine (#379/#642)."""
    module = MACHINES[name]
    rule = module.RULES[0]
    for _ in range(200):
        subject = _subject(module, rule.sources[0])
        module.fire(subject, rule.event, _satisfying_ctx(sorted(rule.roles)[0]))
    assert module.MACHINE.models == []


@pytest.mark.parametrize("name", MACHINES)
def test_unknown_event_and_state_are_refused(name):
    module = MACHINES[name]
    workflow = _workflow(module)
    state = module.STATES[0]
    subject = _subject(module, state)
    before = dict(vars(subject))
    with pytest.raises(TransitionRefused) as info:
        module.fire(subject, "fly", _satisfying_ctx("admin"))
    assert info.value.code == "unknown_event" and "“fly”" in str(info.value)
    for bogus in ("bogus", None, ""):
        setattr(subject, workflow.attribute, bogus)
        before[workflow.attribute] = bogus
        with pytest.raises(TransitionRefused) as info:
            module.fire(subject, module.EVENTS[0], _satisfying_ctx("system"))
        assert info.value.code == "unknown_state"
        assert vars(subject) == before
    assert module.allowed_events("bogus", _satisfying_ctx("admin")) == []


@pytest.mark.parametrize("name", MACHINES)
def test_ctx_must_be_a_transition_context(name):
    module = MACHINES[name]
    with pytest.raises(TypeError):
        module.fire(_subject(module, module.STATES[0]), module.EVENTS[0], {"role": "system"})


@pytest.mark.parametrize("name", MACHINES)
def test_every_label_is_chinese(name):
    module = MACHINES[name]
    workflow = _workflow(module)
    for text in (*workflow.state_labels.values(), *workflow.event_labels.values(),
                 *ROLE_LABELS.values()):
        assert text and all("\u4e00" <= ch <= "\u9fff" for ch in text)
