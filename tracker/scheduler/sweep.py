"""The deadline sweep: set-based ladder moves and reminders as of one day.

How it stays set-based (the statement count does not depend on the number of tasks):

1. The policy thresholds become *deadline ranges* for today (``LadderRanges``): a task is 临期 when its
   deadline is in ``[today, L(due_soon_days)]``, 逾期 in ``[X(escalate)+1, today-1]``, 督办 in
   ``[X(interview)+1, X(escalate)]``, 约谈 up to ``X(interview)``. In working-day mode the bounds are
   found by walking the holiday calendar once — never per task.
2. ONE indexed, aggregated SELECT over the open tasks whose ladder is below the level their
   deadline range calls for says which (from, to) moves are due (at most 10 rows come back).
3. One UPDATE per due (from, to) pair moves them, guarded by ``ladder = from``, an open status and
   the deadline in the target's range, bumping ``version`` — a concurrent web edit then gets a
   conflict, and a task completed or extended meanwhile is simply not moved. ``RETURNING`` gives
   (id, deadline, status, unit, measure) of exactly the rows that moved; only those get audit rows
   and notices.
4. Reminders: one SELECT per threshold (30/7/1) for open tasks whose smallest due threshold is that
   one and that have no such reminder yet (anti-join on the notice key) — so a reminder missed while
   the scheduler was down goes out at the next tick, and one whose task moved on never does.
5. Audit rows: one executemany INSERT; notices: one ``INSERT … ON CONFLICT DO NOTHING``.

Catch-up choice: a task that jumps several levels at once (scheduler down for weeks) gets one audit
row per step of ``workflows.ladder.sweep_events`` (normal → escalated is ``lapse`` then ``escalate``),
each a legal system transition, and each step's notice goes to its own audience: normal → interview
is ``lapse`` + ``escalate`` + ``call_interview``, so the leadership group hears of 督办 too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Integer, String, and_, any_, bindparam, case, cast, exists, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from notifications import messages
from tracker.extensions import db
from tracker.notices.outbox import Audience, Notice, count_by_channel, insert_rows
from tracker.plans.models import Measure
from tracker.tasks.models import Task, TaskEvent
from tracker.units.models import Unit
from workflows import ladder as ladder_machine
from workflows.engine import TransitionContext
from workflows.policy import EscalationPolicy
from workflows.workcalendar import days_between

#: open states the ladder watches (a submitted task is not done until verified)
LADDER_STATES = ("assigned", "in_progress", "submitted", "returned")
#: states that get deadline reminders (a submitted task waits for review, not for its unit)
REMINDER_STATES = ("assigned", "in_progress", "returned")
AUTO_LEVELS = ("due_soon", "overdue", "escalated", "interview")
ONE = timedelta(days=1)
tasks_t = Task.__table__
SYSTEM = TransitionContext("system")


# --------------------------------------------------------------------------
# Thresholds → deadline ranges (pure)
# --------------------------------------------------------------------------

def latest_deadline_within(today: date, n: int, calendar=None) -> date:
    """Largest deadline with at most ``n`` counted days left (days_between(today, d) <= n)."""
    if calendar is None:
        return today + timedelta(days=n)
    day, left = today, 0
    while True:
        nxt = day + ONE
        if calendar.is_workday(nxt):
            if left + 1 > n:
                return day
            left += 1
        day = nxt


def latest_deadline_late(today: date, n: int, calendar=None) -> date:
    """Largest deadline before today that is at least ``n`` counted days overdue (n >= 1)."""
    if calendar is None:
        return today - timedelta(days=n)
    day, late = today, 0
    while True:
        if calendar.is_workday(day):
            late += 1
        day -= ONE
        if late >= n:
            return day


@dataclass(frozen=True)
class LadderRanges:
    """Inclusive deadline ranges (None = unbounded) per automatic ladder level, for one day."""

    today: date
    ranges: dict

    @classmethod
    def build(cls, today: date, policy: EscalationPolicy, calendar=None) -> LadderRanges:
        x_esc = latest_deadline_late(today, policy.escalate_after_days, calendar)
        x_int = latest_deadline_late(today, policy.interview_after_days, calendar)
        return cls(today, {
            "due_soon": (today, latest_deadline_within(today, policy.due_soon_days, calendar)),
            "overdue": (x_esc + ONE, today - ONE),
            "escalated": (x_int + ONE, x_esc),
            "interview": (None, x_int),
        })

    @property
    def horizon(self) -> date:
        """The latest deadline any automatic level applies to (lets the planner use the deadline index)."""
        return max(hi for _, hi in self.ranges.values())

    def level_for(self, deadline: date) -> str:
        for level in AUTO_LEVELS:
            lo, hi = self.ranges[level]
            if (lo is None or deadline >= lo) and deadline <= hi:
                return level
        return "normal"

    def condition(self, level: str, column=None):
        column = tasks_t.c.deadline if column is None else column
        lo, hi = self.ranges[level]
        if lo is not None and lo > hi:
            return None
        return column <= hi if lo is None else column.between(lo, hi)


def reminder_ranges(today: date, policy: EscalationPolicy, calendar=None) -> list[tuple[int, date, date]]:
    """[(threshold, lo, hi)]: deadlines in [lo, hi] have ``threshold`` as their smallest due reminder."""
    out, lo = [], today
    for t in sorted(policy.reminder_days):
        hi = latest_deadline_within(today, t, calendar)
        if lo <= hi:
            out.append((t, lo, hi))
        lo = max(lo, hi + ONE)
    return out


# --------------------------------------------------------------------------
# SQL helpers
# --------------------------------------------------------------------------

def _dialect() -> str:
    return db.session.get_bind().dialect.name


def id_in(column, ids):
    """``column IN ids`` as ONE bound parameter (PostgreSQL array / SQLite json_each), any length."""
    ids = [int(i) for i in ids]
    if _dialect() == "postgresql":
        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    each = func.json_each(json.dumps(ids)).table_valued("value")
    return column.in_(select(each.c.value))


def _date_text(column):
    if _dialect() == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return cast(column, String)


def reminder_key(task_id: int, threshold: int, deadline: date) -> str:
    return f"reminder:task={task_id}:days={threshold}:due={deadline.isoformat()}"


def step_key(event: str, task_id: int, deadline: date) -> str:
    return f"{event}:task={task_id}:due={deadline.isoformat()}"


# --------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------

STEP_NOTICE = {"lapse": "overdue", "escalate": "escalation", "call_interview": "interview"}


@dataclass
class SweepContext:
    today: date
    now: datetime
    policy: EscalationPolicy
    calendar: object | None  # a WorkCalendar in working-day mode, else None
    audience: Audience
    actor_id: int
    task_path: str  # "/tasks/{id}"
    base_url: str

    def link(self, task_id: int) -> str:
        return self.base_url + self.task_path.format(id=task_id)


def _labels(rows) -> tuple[dict, dict]:
    """Measure and unit names for the tasks concerned: two queries, by id set."""
    measure_ids = {r.measure_id for r in rows}
    unit_ids = {r.unit_id for r in rows}
    measures = {m.id: m for m in db.session.execute(
        select(Measure.id, Measure.number, Measure.title).where(id_in(Measure.id, measure_ids)))} if measure_ids else {}
    units = {u.id: u for u in db.session.execute(
        select(Unit.id, Unit.name).where(id_in(Unit.id, unit_ids)))} if unit_ids else {}
    return measures, units


def _task_ref(ctx: SweepContext, row, measures, units) -> messages.TaskRef:
    m, u = measures.get(row.measure_id), units.get(row.unit_id)
    number, title = (m.number, m.title) if m else ("", "")
    label = (f"（{number}）{title}" if not str(number)[:1].isdigit() else f"{number} {title}") if m else ""  # i18n: data
    unit = u.name if u else ""
    return messages.TaskRef(title=f"{label} · {unit}", link=ctx.link(row.id), measure_no=number,
                            measure_title=title, unit=unit, deadline=row.deadline)


def _data(ref: messages.TaskRef, row, **extra) -> dict:
    return {"task_id": row.id, "title": ref.title, "measure_no": ref.measure_no, "measure_title": ref.measure_title,
            "unit": ref.unit, "unit_id": row.unit_id, "deadline": row.deadline.isoformat(), "link": ref.link, **extra}


def run_sweep(ctx: SweepContext) -> dict:
    """Move the ladder and queue reminders as of ``ctx.today``; flushes, never commits."""
    ranges = LadderRanges.build(ctx.today, ctx.policy, ctx.calendar)
    moved = _move_ladder(ctx, ranges)
    reminders = _remind(ctx)
    rows = moved.pop("_rows") + reminders.pop("_rows")
    queued = count_by_channel(rows)
    added = insert_rows(rows)
    return {"as_of": ctx.today.isoformat(), "moved": moved["moved"], "audit_rows": moved["audit_rows"],
            "reminders": reminders["reminders"], "notices_queued": added, "notices_by_channel": queued}


def target_case(ranges: LadderRanges):
    """SQL CASE giving the level a deadline calls for (only used inside the selection below)."""
    whens = [(cond, literal(lvl)) for lvl in reversed(AUTO_LEVELS) if (cond := ranges.condition(lvl)) is not None]
    return case(*whens, else_=literal("normal"))


def plan_moves(ranges: LadderRanges) -> list[tuple[str, str, int]]:
    """ONE indexed, aggregated SELECT: which (from, to) moves are due today and how many tasks each.

    It reads the same rows the hand-written statement would, but returns at most 10 tiny rows
    (no per-task data crosses into Python here)."""
    t = tasks_t.c
    below = {lvl: [s for s in ladder_machine.ORDER if ladder_machine.level(s) < ladder_machine.level(lvl)]
             for lvl in AUTO_LEVELS}
    clauses = [and_(cond, t.ladder.in_(below[lvl])) for lvl in AUTO_LEVELS
               if (cond := ranges.condition(lvl)) is not None]
    target = target_case(ranges).label("target")
    rows = db.session.execute(
        select(t.ladder, target, func.count())
        .where(t.status.in_(LADDER_STATES), t.deadline <= ranges.horizon, or_(*clauses))
        .group_by(t.ladder, target)).all()
    return sorted((source, dest, n) for source, dest, n in rows
                  if ladder_machine.level(dest) > ladder_machine.level(source))


def apply_moves(plan: list[tuple[str, str, int]], ranges: LadderRanges, now: datetime) -> list[tuple]:
    """One guarded UPDATE … RETURNING per (from, to) pair; returns [(row, from, to)] of the rows moved.

    The WHERE clause is the guard — still at ``from``, still open, deadline in the target's range — so a
    task a user completed or got extended meanwhile stays as it is, and ``RETURNING`` says exactly which
    rows moved. ``version + 1`` turns a user's concurrent edit of a moved task into a conflict instead
    of a lost update. Rows are (id, deadline, status, unit_id, measure_id)."""
    t = tasks_t.c
    moved = []
    for source, target, _count in plan:
        stmt = (update(tasks_t)
                .where(t.ladder == source, t.status.in_(LADDER_STATES), ranges.condition(target))
                .values(ladder=target, version=t.version + 1, updated_at=now)
                .returning(t.id, t.deadline, t.status, t.unit_id, t.measure_id))
        moved += [(row, source, target) for row in db.session.execute(stmt)]
    return moved


def _move_ladder(ctx: SweepContext, ranges: LadderRanges) -> dict:
    moved_rows = apply_moves(plan_moves(ranges), ranges, ctx.now)
    counts = {lvl: 0 for lvl in AUTO_LEVELS}
    for _row, _source, target in moved_rows:
        counts[target] += 1
    audit, notices = [], []
    if moved_rows:
        measures, units = _labels([r for r, _, _ in moved_rows])
    for row, source, target in moved_rows:
        late = max((ctx.today - row.deadline).days, 0)
        events = ladder_machine.sweep_events(source, target)
        level = source
        for event in events:
            dest = ladder_machine.check(level, event, SYSTEM)
            comment = (_("系统自动：距完成时限%(days)s天，转为临期", days=(row.deadline - ctx.today).days) if event == "warn"
                       else _("系统自动：已逾期%(days)s天，转为%(level)s", days=late, level=ladder_machine.LADDER_LABELS[dest]))
            audit.append({"task_id": row.id, "actor_id": ctx.actor_id, "event": event, "from_status": row.status,
                          "to_status": row.status, "from_ladder": level, "to_ladder": dest, "comment": comment,
                          "data": {"deadline": row.deadline.isoformat(), "as_of": ctx.today.isoformat(),
                                   "days_overdue": late, "catch_up": len(events) > 1},
                          "created_at": ctx.now})
            level = dest
            kind = STEP_NOTICE.get(event)
            if kind:
                notices += _step_notice(ctx, row, lambda row=row: _task_ref(ctx, row, measures, units), event, kind, late)
    if audit:
        db.session.execute(insert(TaskEvent.__table__), audit)
    return {"moved": counts, "audit_rows": len(audit), "_rows": notices}


def _step_notice(ctx: SweepContext, row, make_ref, event: str, kind: str, late: int) -> list[dict]:
    aud = ctx.audience
    people, unit_id = {"overdue": (aud.unit_users(row.unit_id), row.unit_id), "escalation": (aud.role("leadership"), None),
                       "interview": (aud.role("supervisor"), None)}[kind]
    if not aud.has_recipients(people, unit_id):
        return []  # nobody to tell: do not even render the text
    ref = make_ref()
    if kind == "overdue":
        rendered = messages.overdue_notice(ref, late)
    elif kind == "escalation":
        rendered = messages.escalation(ref, late, ladder_machine.LADDER_LABELS["escalated"])
    else:
        rendered = messages.interview_flag(ref, late)
    n = Notice(kind=kind, key=step_key(event, row.id, row.deadline), subject=rendered.subject, body=rendered.text,
               link=ref.link, task_id=row.id, data=_data(ref, row, days_overdue=late, event=event))
    return aud.rows_for(n, people, unit_id=unit_id)


def _remind(ctx: SweepContext) -> dict:
    t = tasks_t.c
    from tracker.notices.models import Notification

    n = Notification.__table__.c
    found = []
    for threshold, lo, hi in reminder_ranges(ctx.today, ctx.policy, ctx.calendar):
        key = (literal("reminder:task=") + cast(t.id, String) + literal(f":days={threshold}:due=")
               + _date_text(t.deadline))
        already = exists().where(n.task_id == t.id, n.key == key)
        rows = db.session.execute(
            select(t.id, t.deadline, t.unit_id, t.measure_id)
            .where(t.status.in_(REMINDER_STATES), t.deadline.between(lo, hi), ~already)).all()
        found += [(threshold, r) for r in rows]
    if not found:
        return {"reminders": 0, "_rows": []}
    measures, units = _labels([r for _, r in found])
    out, tasks_with_people = [], 0
    for threshold, row in found:
        people = ctx.audience.unit_users(row.unit_id)
        if not ctx.audience.has_recipients(people, row.unit_id):
            continue
        ref = _task_ref(ctx, row, measures, units)
        days_left = (row.deadline - ctx.today).days
        rendered = messages.reminder(ref, days_left)
        notice = Notice(kind="reminder", key=reminder_key(row.id, threshold, row.deadline), subject=rendered.subject,
                        body=rendered.text, link=ref.link, task_id=row.id,
                        data=_data(ref, row, days_left=days_left, threshold=threshold))
        rows = ctx.audience.rows_for(notice, people, unit_id=row.unit_id)
        tasks_with_people += bool(rows)
        out += rows
    return {"reminders": tasks_with_people, "_rows": out}


def days_overdue(deadline: date, today: date, calendar=None) -> int:
    return max(days_between(deadline, today, calendar), 0)
