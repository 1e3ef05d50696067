"""Shared engine behind the task lifecycle and the supervision ladder.

Design
------
Each workflow is declared once, at import time, as a tuple of :class:`Rule`
rows.  From those rows we build ONE module-level ``transitions.Machine`` with
``model=None`` and ``model_attribute`` set to the attribute it drives
(``'status'`` or ``'ladder'``).  No model is ever registered with it: we never
call ``add_model`` and never build a machine per row, because both leak or
bloat memory when used with many short-lived ORM objects (pytransitions
issues #379 and #642).

To apply an event we call ``machine.events[event].trigger(subject, ctx=ctx)``.
``Event.trigger`` takes the model as an argument, reads and writes
``getattr(subject, model_attribute)`` and needs no registration, so any object
with the right attribute (a SQLAlchemy row, a plain test object) works.  The
machine has no callbacks, so the only side effect is that one attribute.

``transitions`` can only tell us *that* a condition failed, not *why*; users
need a Chinese explanation.  So :meth:`Workflow.check` walks the same rules
first and raises :class:`TransitionRefused` with a reason.  The conditions
registered on the machine call the very same rule check, so the two can never
disagree and a direct ``trigger`` call is still guarded.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Optional

from transitions import Machine

from .errors import TransitionRefused, WorkflowError
from .i18n import _, _l

ROLE_LABELS: Mapping[str, str] = MappingProxyType({
    "admin": _l("系统管理员"),
    "leadership": _l("领导小组"),
    "supervisor": _l("督学"),
    "unit": _l("责任单位经办人"),
    "system": _l("系统"),
})


@dataclass(frozen=True)
class TransitionContext:
    """Who is acting, and the facts the guards need.

    ``actor_unit_id``/``owner_unit_id`` only matter for the ``'unit'`` role:
    a unit user may act only on tasks owned by their own unit.  ``comment`` is
    the reason text; events marked ``reason_required`` refuse a blank one.
    """

    role: str
    actor_unit_id: object = None
    owner_unit_id: object = None
    progress_count: int = 0
    evidence_count: int = 0
    indicators_ok: Optional[bool] = None
    comment: str = ""

    @property
    def is_owner(self) -> bool:
        # None == None must not count as ownership (an unassigned task or a
        # user without a unit would otherwise pass).
        return self.actor_unit_id is not None and self.actor_unit_id == self.owner_unit_id

    @property
    def has_reason(self) -> bool:
        return bool((self.comment or "").strip())


# A guard returns None when satisfied, else (code, Chinese message).
Guard = Callable[[TransitionContext, str], Optional[tuple]]


@dataclass(frozen=True)
class Rule:
    """One declared transition: ``event`` moves ``sources`` → ``dest``.

    Only ``roles`` may fire it; ``reason_required`` demands a non-blank
    ``ctx.comment``; every guard must return None.
    """

    event: str
    sources: tuple
    dest: str
    roles: frozenset
    reason_required: bool = False
    guards: tuple = ()


def rule(event: str, sources, dest: str, roles, *, reason: bool = False,
         guards: Iterable[Guard] = ()) -> Rule:
    """Build a :class:`Rule`, accepting a single source/role as a plain str."""
    sources = (sources,) if isinstance(sources, str) else tuple(sources)
    roles = frozenset((roles,) if isinstance(roles, str) else roles)
    return Rule(event, sources, dest, roles, reason, tuple(guards))


def _join_roles(roles: Iterable[str]) -> str:
    labels = [str(ROLE_LABELS.get(r, r)) for r in ROLE_LABELS if r in roles]
    if len(labels) <= 1:
        return "".join(labels)
    return _("%(names)s或%(last)s", names=_("、").join(labels[:-1]), last=labels[-1])


class Workflow:
    """A declared state machine driving one attribute of arbitrary objects."""

    def __init__(self, *, name: str, attribute: str, state_labels: Mapping[str, str],
                 event_labels: Mapping[str, str], state_phrase: str,
                 rules: Iterable[Rule]) -> None:
        self.name = name
        self.attribute = attribute
        self.state_labels = MappingProxyType(dict(state_labels))
        self.event_labels = MappingProxyType(dict(event_labels))
        # e.g. "任务当前状态为" – prefixes the wrong-state message.
        self.state_phrase = state_phrase
        self.rules = tuple(rules)
        self.states = tuple(self.state_labels)
        self.events = tuple(self.event_labels)
        self._validate()
        self.machine = Machine(model=None, states=list(self.states), initial=None,
                               transitions=None, auto_transitions=False,
                               send_event=True, model_attribute=attribute,
                               name=name)
        for r in self.rules:
            self.machine.add_transition(r.event, list(r.sources), r.dest,
                                        conditions=[partial(self._condition, r)])

    def _validate(self) -> None:
        # Fail at import time, not at 3 a.m. in the scheduler.
        seen = set()
        for r in self.rules:
            if r.event not in self.event_labels:
                raise ValueError(_("%(machine)s: 事件 %(event)r 没有中文名称", machine=self.name, event=r.event))
            for s in (*r.sources, r.dest):
                if s not in self.state_labels:
                    raise ValueError(_("%(machine)s: 未声明的状态 %(state)r", machine=self.name, state=s))
            for role in r.roles:
                if role not in ROLE_LABELS:
                    raise ValueError(_("%(machine)s: 未知角色 %(role)r", machine=self.name, role=role))
                for s in r.sources:
                    # Two rules for the same event/source/role would make the
                    # outcome depend on declaration order; forbid it.
                    if (r.event, s, role) in seen:
                        raise ValueError(_("%(machine)s: 重复声明 %(event)s/%(state)s/%(role)s",
                                           machine=self.name, event=r.event, state=s, role=role))
                    seen.add((r.event, s, role))
        unused = set(self.event_labels) - {r.event for r in self.rules}
        if unused:
            raise ValueError(_("%(machine)s: 事件没有任何转换 %(events)s", machine=self.name, events=sorted(unused)))

    # -- checking ---------------------------------------------------------
    def _refuse(self, message: str, state, event: str, ctx: TransitionContext,
                code: str) -> TransitionRefused:
        return TransitionRefused(message, machine=self.name, event=event, state=state,
                                 role=ctx.role, code=code)

    def _role_refusal(self, roles, state, event: str,
                      ctx: TransitionContext) -> TransitionRefused:
        return self._refuse(
            _("“%(role)s”角色不能执行“%(action)s”：只有%(roles)s可以。",
              role=str(ROLE_LABELS.get(ctx.role, ctx.role)), action=str(self.event_labels[event]),
              roles=_join_roles(roles)), state, event, ctx, "role_forbidden")

    def _rule_refusal(self, r: Rule, state, ctx: TransitionContext,
                      require_reason: bool) -> Optional[TransitionRefused]:
        """Everything after "this event is valid from this state" for rule ``r``."""
        label = str(self.event_labels[r.event])
        if ctx.role not in r.roles:
            return self._role_refusal(r.roles, state, r.event, ctx)
        if ctx.role == "unit" and not ctx.is_owner:
            return self._refuse(_("您所在单位不是本任务的责任单位，不能执行“%(action)s”。", action=label),
                                state, r.event, ctx, "not_owner")
        if require_reason and r.reason_required and not ctx.has_reason:
            return self._refuse(_("执行“%(action)s”必须填写理由。", action=label), state, r.event, ctx,
                                "reason_required")
        for guard in r.guards:
            failed = guard(ctx, label)
            if failed:
                code, message = failed
                return self._refuse(message, state, r.event, ctx, code)
        return None

    def refusal(self, state, event: str, ctx: TransitionContext, *,
                require_reason: bool = True) -> Optional[TransitionRefused]:
        """Return the :class:`TransitionRefused` that firing would raise, or None."""
        if not isinstance(ctx, TransitionContext):
            raise TypeError(_("ctx 必须是 TransitionContext"))
        if event not in self.event_labels:
            return self._refuse(_("未知操作“%(event)s”。", event=event), state, event, ctx, "unknown_event")
        label = str(self.event_labels[event])
        if not isinstance(state, str) or state not in self.state_labels:
            return self._refuse(_("%(phrase)s“%(state)s”，这不是有效状态，不能执行“%(action)s”。",
                                  phrase=str(self.state_phrase), state=state, action=label),
                                state, event, ctx, "unknown_state")
        candidates = [r for r in self.rules if r.event == event and state in r.sources]
        if not candidates:
            return self._refuse(_("%(phrase)s“%(state)s”，不能执行“%(action)s”。", phrase=str(self.state_phrase),
                                  state=str(self.state_labels[state]), action=label),
                                state, event, ctx, "invalid_state")
        for r in candidates:
            if ctx.role in r.roles:
                return self._rule_refusal(r, state, ctx, require_reason)
        allowed = frozenset().union(*(r.roles for r in candidates))
        return self._role_refusal(allowed, state, event, ctx)

    def check(self, state, event: str, ctx: TransitionContext) -> str:
        """Return the destination state, or raise :class:`TransitionRefused`."""
        refused = self.refusal(state, event, ctx)
        if refused is not None:
            raise refused
        return next(r.dest for r in self.rules
                    if r.event == event and state in r.sources and ctx.role in r.roles)

    def _condition(self, r: Rule, event_data) -> bool:
        # Registered on the Machine: same rule check as check(), so a direct
        # machine trigger can never bypass roles, reasons or guards.
        ctx = event_data.kwargs.get("ctx")
        if not isinstance(ctx, TransitionContext):
            return False
        return self._rule_refusal(r, event_data.state.name, ctx, True) is None

    # -- public operations ------------------------------------------------
    def fire(self, subject, event: str, ctx: TransitionContext) -> tuple:
        """Apply ``event`` to ``subject``; return ``(from_state, to_state)``.

        Raises :class:`TransitionRefused` and leaves ``subject`` untouched when
        the event is not allowed.
        """
        state = getattr(subject, self.attribute, None)
        self.check(state, event, ctx)
        if not self.machine.events[event].trigger(subject, ctx=ctx):
            # Unreachable while _condition mirrors check(); fail loudly if not.
            raise WorkflowError(_("内部错误：%(machine)s 未能执行“%(action)s”。", machine=self.name,
                                  action=str(self.event_labels[event])))
        return state, getattr(subject, self.attribute)

    def allowed_events(self, state, ctx: TransitionContext) -> list:
        """Events ``ctx`` could fire from ``state`` now, in declaration order.

        The reason requirement is ignored on purpose: the reason is typed into
        the dialog that the button opens, so it cannot exist yet when the page
        decides which buttons to show.  Use :meth:`requires_reason` to know
        whether that dialog needs a reason box.
        """
        return [e for e in self.events
                if self.refusal(state, e, ctx, require_reason=False) is None]

    def requires_reason(self, event: str, role: str) -> bool:
        """True if ``role`` must give a reason when firing ``event``."""
        return any(r.reason_required for r in self.rules
                   if r.event == event and role in r.roles)
