"""Task lifecycle (办理流程): 待签收 → 办理中 → 待审核 → 已办结, plus side exits.

The whole lifecycle is the :data:`RULES` table below, compiled once into the
module-level :data:`LIFECYCLE` workflow (one shared ``transitions.Machine``
driving the ``status`` attribute; see :mod:`workflows.engine` for why no model
is ever registered).  Use it on any object that has a ``status`` attribute::

    ctx = TransitionContext("unit", actor_unit_id=3, owner_unit_id=task.unit_id)
    old, new = fire(task, "accept", ctx)      # task.status is now "in_progress"

A refused event raises :class:`~workflows.errors.TransitionRefused` and leaves
``task`` unchanged, so the caller can simply not commit.

Roles: unit = 责任单位经办人 (only for its own unit's tasks), supervisor = 督学,
admin = 管理员, system = scheduled jobs.  ``restore`` sends a suspended task
back to 办理中 whatever it was suspended from, so a task suspended while
待审核 must be submitted again – the review context may be stale by then.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Optional

from .engine import TransitionContext, Workflow, rule
from .i18n import _, _l, lazy_pgettext

STATE_LABELS = MappingProxyType({
    "assigned": _l("待签收"),
    "in_progress": _l("办理中"),
    "submitted": _l("待审核"),
    "completed": _l("已办结"),
    "returned": lazy_pgettext("state", "退回"),
    "suspended": _l("已暂停"),
    "cancelled": _l("已撤销"),
})

EVENT_LABELS = MappingProxyType({
    "accept": _l("签收"),
    "submit": _l("报送"),
    "verify": _l("办结"),
    "return": lazy_pgettext("event", "退回"),
    "resume": _l("重新办理"),
    "reopen": _l("重新打开"),
    "suspend": _l("暂停"),
    "cancel": _l("撤销"),
    "restore": _l("恢复办理"),
})

INITIAL_STATE = "assigned"
# completed can still be reopened, but nothing else happens to it; cancelled
# is final.  Neither can be cancelled/suspended.
TERMINAL_STATES = frozenset({"completed", "cancelled"})
OPEN_STATES = tuple(s for s in STATE_LABELS if s not in TERMINAL_STATES)


def needs_progress_and_evidence(ctx: TransitionContext, label: str) -> Optional[tuple]:
    """Guard for 报送: at least one progress report and one evidence file."""
    if (ctx.progress_count or 0) < 1 or (ctx.evidence_count or 0) < 1:
        return ("missing_progress_or_evidence", _("报送前至少需要一条进展报告和一份佐证材料。"))
    return None


def indicators_not_failed(ctx: TransitionContext, label: str) -> Optional[tuple]:
    """Guard: indicator data must not have failed validation.

    ``None`` means "no indicators attached / not checked" and passes; only an
    explicit ``False`` blocks.
    """
    if ctx.indicators_ok is False:
        return ("indicators_failed", _("指标数据未通过校验，不能执行“%(action)s”。", action=str(label)))
    return None


RULES = (
    rule("accept", "assigned", "in_progress", "unit"),
    rule("submit", "in_progress", "submitted", "unit",
         guards=(needs_progress_and_evidence, indicators_not_failed)),
    rule("verify", "submitted", "completed", "supervisor", guards=(indicators_not_failed,)),
    rule("return", "submitted", "returned", "supervisor", reason=True),
    rule("resume", "returned", "in_progress", "unit"),
    rule("reopen", "completed", "in_progress", ("supervisor", "system"), reason=True),
    rule("suspend", ("assigned", "in_progress", "returned", "submitted"), "suspended",
         "admin", reason=True),
    rule("cancel", OPEN_STATES, "cancelled", "admin", reason=True),
    rule("restore", "suspended", "in_progress", "admin"),
)

LIFECYCLE = Workflow(name="lifecycle", attribute="status", state_labels=STATE_LABELS,
                     event_labels=EVENT_LABELS, state_phrase=_l("任务当前状态为"), rules=RULES)
#: The single shared ``transitions.Machine`` (model=None, model_attribute='status').
MACHINE = LIFECYCLE.machine
STATES = LIFECYCLE.states
EVENTS = LIFECYCLE.events


def fire(subject, event: str, ctx: TransitionContext) -> tuple:
    """Apply ``event`` to ``subject.status``; return ``(from_state, to_state)``."""
    return LIFECYCLE.fire(subject, event, ctx)


def check(status: str, event: str, ctx: TransitionContext) -> str:
    """Destination state of ``event`` from ``status``, or raise ``TransitionRefused``."""
    return LIFECYCLE.check(status, event, ctx)


def refusal(status: str, event: str, ctx: TransitionContext):
    """The ``TransitionRefused`` firing would raise (e.g. a button tooltip), or None."""
    return LIFECYCLE.refusal(status, event, ctx)


def allowed_events(status: str, ctx: TransitionContext) -> list:
    """Events the actor may fire now (guards applied, reason not yet needed)."""
    return LIFECYCLE.allowed_events(status, ctx)


def requires_reason(event: str, role: str) -> bool:
    """Whether the dialog for ``event`` must ask ``role`` for a reason."""
    return LIFECYCLE.requires_reason(event, role)
