"""Supervision ladder (督办等级): 正常 → 临期 → 逾期 → 督办 → 约谈 → 问责.

A second, independent machine on the same task object, driving the ``ladder``
attribute (``model_attribute='ladder'``), so it never touches ``status``.  It
is compiled once into :data:`LADDER`, exactly like the lifecycle.

Who moves it:

* the scheduler (role ``'system'``) walks it UP only – ``warn``, ``lapse``,
  ``escalate`` from 逾期, ``call_interview`` – and resets it to 正常 when the
  task completes; :func:`sweep_events` / :func:`sweep` compute and apply the
  steps towards the level :func:`workflows.policy.expected_ladder` returns;
* a supervisor (督学) may escalate early, call an interview, de-escalate one
  level or reset, always with a reason;
* 问责 is never automatic: a supervisor or 领导小组 decides it, with a reason.

``reset`` is declared from every level except 正常 itself, so callers do
``if task.ladder != "normal": fire(task, "reset", ctx)`` on completion.
"""
from __future__ import annotations

from types import MappingProxyType

from .engine import TransitionContext, Workflow, rule
from .i18n import _, _l, lazy_pgettext

LADDER_LABELS = MappingProxyType({
    "normal": _l("正常"),
    "due_soon": _l("临期"),
    "overdue": _l("逾期"),
    "escalated": _l("督办"),
    "interview": lazy_pgettext("ladder", "约谈"),
    "accountability": _l("问责"),
})

LADDER_EVENT_LABELS = MappingProxyType({
    "warn": _l("临期提醒"),
    "lapse": _l("转为逾期"),
    "escalate": _l("升级督办"),
    "call_interview": lazy_pgettext("event", "约谈"),
    "hold_accountable": _l("问责"),
    "deescalate": _l("降低督办等级"),
    "reset": _l("恢复正常"),
})

#: Levels from lowest to highest; index = severity.
ORDER = tuple(LADDER_LABELS)
INITIAL_LEVEL = "normal"


def level(state: str) -> int:
    """Severity of a ladder state: normal=0 … accountability=5."""
    try:
        return ORDER.index(state)
    except ValueError:
        raise ValueError(_("未知的督办等级：%(level)r", level=state)) from None


RULES = (
    rule("warn", "normal", "due_soon", "system"),
    rule("lapse", ("normal", "due_soon"), "overdue", "system"),
    rule("escalate", "overdue", "escalated", "system"),
    rule("escalate", ("normal", "due_soon", "overdue"), "escalated", "supervisor",
         reason=True),
    rule("call_interview", ("escalated", "overdue"), "interview", "system"),
    rule("call_interview", ("escalated", "overdue"), "interview", "supervisor", reason=True),
    rule("hold_accountable", "interview", "accountability", ("supervisor", "leadership"),
         reason=True),
    # One level down from every level above normal.
    *(rule("deescalate", upper, lower, "supervisor", reason=True)
      for lower, upper in zip(ORDER, ORDER[1:])),
    rule("reset", ORDER[1:], "normal", "system"),
    rule("reset", ORDER[1:], "normal", "supervisor", reason=True),
)

LADDER = Workflow(name="ladder", attribute="ladder", state_labels=LADDER_LABELS,
                  event_labels=LADDER_EVENT_LABELS, state_phrase=_l("任务当前督办等级为"),
                  rules=RULES)
#: The single shared ``transitions.Machine`` (model=None, model_attribute='ladder').
MACHINE = LADDER.machine
STATES = LADDER.states
EVENTS = LADDER.events

_SYSTEM = TransitionContext("system")
# Automatic (system) moves that go up, used to plan sweeps.
_UPWARD = tuple((r.event, s, r.dest) for r in RULES if "system" in r.roles
                for s in r.sources if level(r.dest) > level(s))


def fire(subject, event: str, ctx: TransitionContext) -> tuple:
    """Apply ``event`` to ``subject.ladder``; return ``(from_level, to_level)``."""
    return LADDER.fire(subject, event, ctx)


def check(current: str, event: str, ctx: TransitionContext) -> str:
    """Destination level of ``event``, or raise ``TransitionRefused``."""
    return LADDER.check(current, event, ctx)


def refusal(current: str, event: str, ctx: TransitionContext):
    """The ``TransitionRefused`` firing would raise, or None."""
    return LADDER.refusal(current, event, ctx)


def allowed_events(current: str, ctx: TransitionContext) -> list:
    """Ladder events the actor may fire now (reason not yet needed)."""
    return LADDER.allowed_events(current, ctx)


def requires_reason(event: str, role: str) -> bool:
    """Whether ``role`` must give a reason for ``event``."""
    return LADDER.requires_reason(event, role)


def sweep_events(current: str, target: str) -> list:
    """System events that raise the ladder from ``current`` towards ``target``.

    Never plans a downward move (returns ``[]`` if ``target`` is not above
    ``current``).  Climbs one level at a time, so that every level's audience hears
    of it (督办 tells the leadership group, 约谈 the supervisors): normal → interview
    is ``['lapse', 'escalate', 'call_interview']``.  The one level it passes over is
    临期 on the way to a level above it (that is the reminders' business).  It stops
    where no system step exists (e.g. it never reaches 问责).
    """
    plan = []
    goal = level(target)
    while level(current) < goal:
        steps = [(level(dest), event, dest) for event, src, dest in _UPWARD
                 if src == current and level(dest) <= goal
                 and not (dest == "due_soon" and goal > level("due_soon"))]
        if not steps:
            break
        _, event, current = min(steps)
        plan.append(event)
    return plan


def sweep(subject, target: str, comment: str = "") -> list:
    """Apply :func:`sweep_events` to ``subject`` as the system.

    Returns ``[(event, from_level, to_level), ...]`` so the caller can write
    one audit/notification record per step.
    """
    ctx = _SYSTEM if not comment else TransitionContext("system", comment=comment)
    done = []
    for event in sweep_events(subject.ladder, target):
        old, new = fire(subject, event, ctx)
        done.append((event, old, new))
    return done
