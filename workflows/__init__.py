"""Workflow rules of 优质均衡督办 – plain Python, no Flask or SQLAlchemy.

* :mod:`workflows.lifecycle` – task status (待签收 … 已办结), attribute ``status``;
* :mod:`workflows.ladder` – supervision ladder (正常 … 问责), attribute ``ladder``;
* :mod:`workflows.policy` – escalation thresholds as data and pure date rules;
* :mod:`workflows.workcalendar` – calendar-day / working-day counting.

The lifecycle helpers are re-exported under their plain names (``fire``,
``allowed_events`` …) and the ladder ones with a ``ladder_`` prefix.
"""
from . import ladder, lifecycle, policy, workcalendar
from .engine import ROLE_LABELS, Rule, TransitionContext, Workflow
from .errors import ExtensionRefused, PolicyError, TransitionRefused, WorkflowError
from .ladder import LADDER, LADDER_EVENT_LABELS, LADDER_LABELS, ORDER as LADDER_ORDER
from .ladder import allowed_events as allowed_ladder_events
from .ladder import fire as fire_ladder
from .ladder import level as ladder_level
from .ladder import sweep as sweep_ladder
from .ladder import sweep_events as ladder_sweep_events
from .lifecycle import (EVENT_LABELS, LIFECYCLE, STATE_LABELS, TERMINAL_STATES,
                        allowed_events, fire, requires_reason)
from .policy import (DEFAULT_POLICY, FIELD_LABELS as POLICY_FIELD_LABELS, RAG_LABELS,
                     EscalationPolicy, check_extension_request, expected_ladder, is_behind,
                     is_stale, rag, reminder_thresholds_due, schedule_progress)
from .workcalendar import CalendarDays, WorkCalendar, Weekdays, days_between

__all__ = [
    "lifecycle", "ladder", "policy", "workcalendar",
    "ROLE_LABELS", "Rule", "TransitionContext", "Workflow",
    "WorkflowError", "TransitionRefused", "ExtensionRefused", "PolicyError",
    "LIFECYCLE", "STATE_LABELS", "EVENT_LABELS", "TERMINAL_STATES",
    "fire", "allowed_events", "requires_reason",
    "LADDER", "LADDER_LABELS", "LADDER_EVENT_LABELS", "LADDER_ORDER", "ladder_level",
    "fire_ladder", "allowed_ladder_events", "ladder_sweep_events", "sweep_ladder",
    "EscalationPolicy", "DEFAULT_POLICY", "POLICY_FIELD_LABELS", "RAG_LABELS",
    "expected_ladder", "schedule_progress", "is_behind", "is_stale", "rag",
    "reminder_thresholds_due", "check_extension_request",
    "WorkCalendar", "CalendarDays", "Weekdays", "days_between",
]
