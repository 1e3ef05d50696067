"""Read-side task queries: one joined statement per list, scoped to what the user may see."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager

from tracker.extensions import db
from tracker.permissions import scope_tasks
from tracker.plans.models import Measure, Section
from tracker.tasks.models import Task
from tracker.units.models import Unit


OPEN_STATUSES = ("assigned", "in_progress", "submitted", "returned", "suspended")


def task_list_stmt(*, user=None, unit_code: str | None = None, unit_id: int | None = None, status: str | None = None,
                   plan_id: int | None = None, measure_id: int | None = None, ladder: str | None = None,
                   unit_kind: str | None = None, overdue_on: date | None = None, due_by: date | None = None,
                   open_only: bool = False, q: str | None = None) -> Select:
    """Tasks with their measure and unit in one statement; every filter is a WHERE on an indexed column."""
    stmt = (select(Task).join(Task.measure).join(Task.unit)
            .options(contains_eager(Task.measure), contains_eager(Task.unit)))
    if user is not None:
        stmt = scope_tasks(stmt, user)
    if unit_code:
        stmt = stmt.where(Unit.code == unit_code)
    if unit_id:
        stmt = stmt.where(Task.unit_id == unit_id)
    if unit_kind:
        stmt = stmt.where(Unit.kind == unit_kind)
    if status:
        stmt = stmt.where(Task.status == status)
    if ladder:
        stmt = stmt.where(Task.ladder == ladder)
    if plan_id:
        stmt = stmt.where(Task.plan_id == plan_id)
    if measure_id:
        stmt = stmt.where(Task.measure_id == measure_id)
    if open_only or overdue_on or due_by:
        stmt = stmt.where(Task.status.in_(OPEN_STATUSES))
    if overdue_on:
        stmt = stmt.where(Task.deadline < overdue_on)
    if due_by:
        stmt = stmt.where(Task.deadline <= due_by)
    if q:
        # % and _ typed by the user are literal characters, not wildcards
        like = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Measure.title.ilike(like, escape="\\"), Measure.text.ilike(like, escape="\\"),
                              Unit.name.ilike(like, escape="\\")))
    return stmt.order_by(Task.deadline, Measure.plan_id, Measure.position, Unit.code)


def list_tasks(**filters) -> list[Task]:
    return list(db.session.scalars(task_list_stmt(**filters)).unique())


def task_row(task: Task) -> dict:
    """The JSON shape of a task in lists (CLI and API)."""
    return {
        "id": task.id, "plan_id": task.plan_id, "measure": task.measure.number, "measure_title": task.measure.title,
        "unit_code": task.unit.code, "unit_name": task.unit.name, "unit_kind": task.unit.kind_value,
        "is_lead": task.is_lead, "period": task.period, "deadline": task.deadline.isoformat(),
        "status": task.status, "ladder": task.ladder, "progress": task.progress_percent, "version": task.version,
    }


def status_counts(plan_id: int, user=None) -> dict[str, int]:
    stmt = select(Task.status, func.count()).where(Task.plan_id == plan_id).group_by(Task.status)
    if user is not None:
        stmt = scope_tasks(stmt, user)
    return dict(db.session.execute(stmt).all())


def measure_task_counts(plan_id: int, user=None) -> dict[int, dict[str, int]]:
    """measure id → {status: n} for one plan, in one grouped query."""
    stmt = (select(Task.measure_id, Task.status, func.count()).where(Task.plan_id == plan_id)
            .group_by(Task.measure_id, Task.status))
    if user is not None:
        stmt = scope_tasks(stmt, user)
    out: dict[int, dict[str, int]] = {}
    for measure_id, status, n in db.session.execute(stmt):
        out.setdefault(measure_id, {})[status] = n
    return out


def plan_outline(plan_id: int) -> list[Section]:
    """Sections with their measures and unit links loaded in three queries."""
    from sqlalchemy.orm import selectinload

    from tracker.plans.models import MeasureUnit

    return list(db.session.scalars(
        select(Section).where(Section.plan_id == plan_id).order_by(Section.position)
        .options(selectinload(Section.measures).selectinload(Measure.unit_links).selectinload(MeasureUnit.unit))))
