"""The leadership group's overdue board (督办台): overdue and escalated work, instructions (批示), 已阅.

The board is read in three queries whatever its size: the tasks (with measure and unit), the latest
audit row of each (已阅 while that row is the 'reviewed' acknowledgement), and the latest instruction
of each. An instruction writes one TaskEvent('instruction') per task, moves deadlines when it sets
one, and tells each owner unit once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager

from tracker.clock import today, utcnow
from tracker.errors import Invalid
from tracker.extensions import db
from tracker.i18n import DEFAULT
from tracker.notices.outbox import enqueue, users_of_unit
from tracker.plans.models import Measure
from tracker.supervision.access import INSTRUCTORS, require
from tracker.supervision.models import WATCHED_STATES, Instruction, InstructionTask
from tracker.tasks.models import Task, TaskEvent
from tracker.tasks.operations import MAX_TEXT, _audit, current_policy, flush_or_conflict, task_link
from tracker.units.models import Unit
from workflows import TransitionContext, ladder, policy

ESCALATED_LEVELS = ("escalated", "interview", "accountability")
TABS = {"county": _l("按县市"), "department": _l("按部门"), "measure": _l("按措施")}
#: the board shows at most this many tasks (the most overdue first)
LIMIT = 1000


@dataclass
class BoardRow:
    task: Task
    days_overdue: int
    reviewed: TaskEvent | None
    instruction: Instruction | None


@dataclass
class BoardGroup:
    key: int
    name: str
    rows: list[BoardRow]

    @property
    def worst_days(self) -> int:
        return max((r.days_overdue for r in self.rows), default=0)

    @property
    def escalated(self) -> int:
        return sum(1 for r in self.rows if r.task.ladder in ESCALATED_LEVELS)


def board_stmt(day: date, unit_kind: str | None = None, plan_id: int | None = None):
    stmt = (select(Task).join(Task.measure).join(Task.unit)
            .options(contains_eager(Task.measure), contains_eager(Task.unit))
            .where(Task.status.in_(WATCHED_STATES), or_(Task.deadline < day, Task.ladder.in_(ESCALATED_LEVELS))))
    if unit_kind:
        stmt = stmt.where(Unit.kind == unit_kind)
    if plan_id:
        stmt = stmt.where(Task.plan_id == plan_id)
    return stmt.order_by(Task.deadline, Measure.plan_id, Measure.position, Unit.code).limit(LIMIT)


def board_rows(day: date, unit_kind: str | None = None, plan_id: int | None = None) -> list[BoardRow]:
    tasks = list(db.session.scalars(board_stmt(day, unit_kind, plan_id)).unique())
    ids = [t.id for t in tasks]
    last_events: dict[int, TaskEvent] = {}
    last_instructions: dict[int, Instruction] = {}
    if ids:
        latest = (select(TaskEvent.task_id, func.max(TaskEvent.id).label("last"))
                  .where(TaskEvent.task_id.in_(ids)).group_by(TaskEvent.task_id).subquery())
        for ev in db.session.scalars(select(TaskEvent).join(latest, latest.c.last == TaskEvent.id)):
            last_events[ev.task_id] = ev
        newest = (select(InstructionTask.task_id, func.max(InstructionTask.instruction_id).label("last"))
                  .where(InstructionTask.task_id.in_(ids)).group_by(InstructionTask.task_id).subquery())
        for task_id, instruction in db.session.execute(
                select(newest.c.task_id, Instruction).join(Instruction, Instruction.id == newest.c.last)):
            last_instructions[task_id] = instruction
    rows = []
    for t in tasks:
        ev = last_events.get(t.id)
        rows.append(BoardRow(t, max((day - t.deadline).days, 0), ev if ev is not None and ev.event == "reviewed" else None,
                             last_instructions.get(t.id)))
    return rows


def grouped(rows: list[BoardRow], tab: str) -> list[BoardGroup]:
    """Rows grouped by county, by department or by measure; groups keep the board's order (most overdue first)."""
    groups: dict[int, BoardGroup] = {}
    for row in rows:
        t = row.task
        if tab == "measure":
            key, name = t.measure_id, t.measure.label
        else:
            if t.unit.kind_value != tab:
                continue
            key, name = t.unit_id, t.unit.name
        groups.setdefault(key, BoardGroup(key, name, [])).rows.append(row)
    return list(groups.values())


def _load_tasks(task_ids) -> list[Task]:
    try:
        ids = sorted({int(i) for i in task_ids})
    except (TypeError, ValueError):
        raise Invalid(_("任务编号无效。")) from None
    if not ids:
        raise Invalid(_("请先勾选任务。"))
    tasks = list(db.session.scalars(select(Task).where(Task.id.in_(ids)).order_by(Task.id)))
    missing = sorted(set(ids) - {t.id for t in tasks})
    if missing:
        raise Invalid(_("找不到任务：%(ids)s。", ids=_("、").join(map(str, missing))))
    return tasks


def instruct(actor, task_ids, text: str, new_deadline: date | None = None) -> Instruction:
    """Give an instruction (批示) on the tasks; with a new deadline, every task gets it (source 'manual')."""
    require(actor, INSTRUCTORS, _l("只有领导小组可以作出批示。"))
    text = (text or "").strip()
    if not text:
        raise Invalid(_("请填写批示内容。"))
    if len(text) > MAX_TEXT:
        raise Invalid(_("批示内容不能超过 %(limit)s 字。", limit=MAX_TEXT))
    day = today()
    if new_deadline is not None and new_deadline < day:
        raise Invalid(_("新的完成时限不能早于今天。"))
    tasks = _load_tasks(task_ids)
    closed = [t for t in tasks if t.status in ("completed", "cancelled")]
    if closed:
        raise Invalid(_("以下任务已办结或撤销，不能批示：%(tasks)s",
                        tasks=_("、").join(f"{t.display_title} · {t.unit.name}" for t in closed)))
    now = utcnow()
    instruction = Instruction(author_id=actor.id, text=text, new_deadline=new_deadline, created_at=now)
    db.session.add(instruction)
    db.session.flush()
    pol = current_policy()
    for task in tasks:
        old, before = task.deadline, task.ladder
        db.session.add(InstructionTask(instruction_id=instruction.id, task_id=task.id, old_deadline=old))
        if new_deadline is not None and new_deadline != old:
            task.deadline, task.deadline_source = new_deadline, "manual"
            target = policy.expected_ladder(task.deadline, day, False, pol)
            # as when an extension is approved: a lapsed task with a fresh deadline is no longer overdue
            if task.ladder in ("due_soon", "overdue") and ladder.level(target) < ladder.level(task.ladder):
                ladder.fire(task, "reset", TransitionContext("system"))
        _audit(task, actor, "instruction", comment=text, from_ladder=before, to_ladder=task.ladder,
               data={"instruction_id": instruction.id, "new_deadline": new_deadline.isoformat() if new_deadline else None,
                     "old_deadline": old.isoformat()})
    flush_or_conflict()
    by_unit: dict[int, list[Task]] = {}
    for task in tasks:
        by_unit.setdefault(task.unit_id, []).append(task)
    for unit_id, unit_tasks in by_unit.items():
        with force_locale(DEFAULT):  # one text for all the unit's users: the default language
            listed = _("；").join(t.display_title for t in unit_tasks)
            when = _("完成时限调整为%(date)s。", date=new_deadline.isoformat()) if new_deadline else ""
            subject = (_("【领导批示】%(task)s", task=unit_tasks[0].display_title) if len(unit_tasks) == 1 else
                       _("【领导批示】%(task)s等%(num)s项任务", task=unit_tasks[0].display_title, num=len(unit_tasks)))
            body = _("%(author)s批示：%(text)s\n涉及任务：%(tasks)s\n%(deadline)s", author=actor.display_name, text=text,
                     tasks=listed, deadline=when).strip()
        enqueue(users_of_unit(unit_id), kind="instruction", key=f"instruction:{instruction.id}:unit={unit_id}",
                subject=subject, body=body, link=task_link(unit_tasks[0]), task_id=unit_tasks[0].id,
                data={"instruction_id": instruction.id, "tasks": [t.id for t in unit_tasks]})
    return instruction


def acknowledge(actor, task_ids) -> int:
    """Mark tasks as reviewed (已阅): one TaskEvent('reviewed') each, unless already the task's latest row.

    The acknowledgement does not change the task (no version bump), so a unit user's open form stays valid;
    the board shows 已阅 until any later audit row (progress, a ladder move, a new instruction …)."""
    require(actor, INSTRUCTORS, _l("只有领导小组可以标记已阅。"))
    tasks = _load_tasks(task_ids)
    latest = dict(db.session.execute(select(TaskEvent.task_id, func.max(TaskEvent.id))
                                     .where(TaskEvent.task_id.in_([t.id for t in tasks])).group_by(TaskEvent.task_id)).all())
    already = set()
    if latest:
        already = set(db.session.scalars(select(TaskEvent.task_id).where(TaskEvent.id.in_(list(latest.values())),
                                                                         TaskEvent.event == "reviewed")))
    now, added = utcnow(), 0
    for task in tasks:
        if task.id in already:
            continue
        db.session.add(TaskEvent(task_id=task.id, actor_id=actor.id, event="reviewed", from_status=task.status,
                                 to_status=task.status, from_ladder=task.ladder, to_ladder=task.ladder, comment="",
                                 data={}, created_at=now))
        added += 1
    db.session.flush()
    return added


def instruction_list(limit: int = 200) -> list[Instruction]:
    from sqlalchemy.orm import selectinload

    return list(db.session.scalars(
        select(Instruction).options(selectinload(Instruction.author),
                                    selectinload(Instruction.links).selectinload(InstructionTask.task).selectinload(Task.unit),
                                    selectinload(Instruction.links).selectinload(InstructionTask.task).selectinload(Task.measure))
        .order_by(Instruction.created_at.desc(), Instruction.id.desc()).limit(limit)))
