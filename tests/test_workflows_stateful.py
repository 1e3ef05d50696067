"""Hypothesis state machine: random events by random actors on one plain task.

After every step: both attributes hold declared states; a refused event changed
nothing; an accepted one moved exactly as an independent oracle (written from
the specification, not from the engine) says; 待审核/已办结 is only ever reached through
a 报送 whose evidence guard held.
"""
import pathlib
import sys
from types import SimpleNamespace

from hypothesis import HealthCheck, settings
from hypothesis import event as record
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

# Standalone run without a conftest/pytest.ini: make the project importable.
_ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from workflows import ROLE_LABELS, TransitionContext, TransitionRefused  # noqa: E402
from workflows import ladder, lifecycle  # noqa: E402

OWNER = 1

contexts = st.builds(
    TransitionContext,
    role=st.sampled_from([*ROLE_LABELS, "guest"]),
    actor_unit_id=st.sampled_from([OWNER, OWNER, 2, None]),
    owner_unit_id=st.sampled_from([OWNER, OWNER, OWNER, None]),
    progress_count=st.integers(0, 2),
    evidence_count=st.integers(0, 2),
    indicators_ok=st.sampled_from([None, True, False]),
    comment=st.sampled_from(["", "  ", "情况说明"]),
)


def plausible_context(role):
    """Mostly well-formed contexts, so deep states (待审核, 已办结) get reached."""
    return st.builds(
        TransitionContext,
        role=st.just(role),
        actor_unit_id=st.sampled_from([OWNER, OWNER, OWNER, 2]),
        owner_unit_id=st.just(OWNER),
        progress_count=st.sampled_from([1, 1, 2, 0]),
        evidence_count=st.sampled_from([1, 1, 2, 0]),
        indicators_ok=st.sampled_from([None, True, True, False]),
        comment=st.sampled_from(["情况说明", "情况说明", ""]),
    )


def oracle(module, state, event, ctx):
    """Destination per the specification, or None if the event must be refused."""
    for r in module.RULES:
        if r.event != event or state not in r.sources or ctx.role not in r.roles:
            continue
        if ctx.role == "unit" and (ctx.actor_unit_id is None
                                   or ctx.actor_unit_id != ctx.owner_unit_id):
            return None
        if r.reason_required and not ctx.comment.strip():
            return None
        if event == "submit" and (ctx.progress_count < 1 or ctx.evidence_count < 1):
            return None
        if event in ("submit", "verify") and ctx.indicators_ok is False:
            return None
        return r.dest
    return None


class TaskMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.task = SimpleNamespace(status=lifecycle.INITIAL_STATE, ladder=ladder.INITIAL_LEVEL,
                                    title="随机任务")
        self.submit_ctx = None  # the 报送 that led to the current 待审核/已办结

    def _step(self, module, attribute, event, ctx):
        before = dict(vars(self.task))
        state = before[attribute]
        expected = oracle(module, state, event, ctx)
        offered = event in module.allowed_events(state, ctx)
        try:
            result = module.fire(self.task, event, ctx)
        except TransitionRefused as err:
            assert vars(self.task) == before, "refusal changed the subject"
            assert expected is None, f"{event} from {state} as {ctx} should be allowed"
            assert (err.event, err.state, err.role) == (event, state, ctx.role)
            # The UI offers a button only when the reason is the sole obstacle.
            assert offered == (err.code == "reason_required")
            return None
        assert expected is not None, f"{event} from {state} as {ctx} should be refused"
        assert result == (state, expected)
        after = dict(vars(self.task))
        assert after.pop(attribute) == expected
        before.pop(attribute)
        assert after == before, "a machine touched more than its own attribute"
        assert offered
        record(f"{attribute} → {expected}")  # shows coverage with --hypothesis-show-statistics
        return expected

    @rule(event=st.sampled_from([*lifecycle.EVENTS, "fly"]), ctx=contexts)
    def fire_lifecycle(self, event, ctx):
        new = self._step(lifecycle, "status", event, ctx)
        if new is None:
            return
        if event == "submit":
            self.submit_ctx = ctx
        elif new not in ("submitted", "completed"):
            self.submit_ctx = None

    @rule(data=st.data())
    def fire_lifecycle_plausibly(self, data):
        # An event declared from the current state, by one of its declared
        # roles (both read from the declaration), usually well-formed.
        rules = [r for r in lifecycle.RULES if self.task.status in r.sources]
        if not rules:
            return  # 已撤销 is final
        chosen = data.draw(st.sampled_from(rules))
        ctx = data.draw(plausible_context(data.draw(st.sampled_from(sorted(chosen.roles)))))
        self.fire_lifecycle(chosen.event, ctx)

    @rule(event=st.sampled_from(ladder.EVENTS), ctx=contexts)
    def fire_ladder(self, event, ctx):
        self._step(ladder, "ladder", event, ctx)

    @rule(level=st.sampled_from(ladder.ORDER))
    def sweep(self, level):
        before = self.task.ladder
        steps = ladder.sweep(self.task, level)
        assert ladder.level(self.task.ladder) >= ladder.level(before)  # only ever up
        assert not steps or self.task.ladder == steps[-1][2]

    @invariant()
    def states_are_declared(self):
        assert self.task.status in lifecycle.STATES
        assert self.task.ladder in ladder.STATES

    @invariant()
    def review_only_after_a_guarded_submit(self):
        if self.task.status in ("submitted", "completed"):
            ctx = self.submit_ctx
            assert ctx is not None
            assert ctx.progress_count >= 1 and ctx.evidence_count >= 1
            assert ctx.indicators_ok is not False

    @invariant()
    def shared_machines_hold_no_models(self):
        assert lifecycle.MACHINE.models == [] and ladder.MACHINE.models == []


TestTaskMachine = TaskMachine.TestCase
TestTaskMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                    database=None,
                                    suppress_health_check=[HealthCheck.too_slow])
