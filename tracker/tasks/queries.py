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


def _task_conditions(*, user=None, unit_code: str | None = None, unit_id: int | None = None, status: str | None = None,
                     plan_id: int | None = None, measure_id: int | None = None, ladder: str | None = None,
                     unit_kind: str | None = None, overdue_on: date | None = None, due_by: date | None = None,
                     open_only: bool = False, q: str | None = None) -> tuple[list, set[str]]:
    """The WHERE conditions of a task list and the joined tables they read ('unit', 'measure')."""
    conditions: list = []
    joins: set[str] = set()
    if user is not None:
        scoped = scope_tasks(select(Task.id), user).whereclause
        if scoped is not None:
            conditions.append(scoped)
    if unit_code:
        conditions.append(Unit.code == unit_code)
        joins.add("unit")
    if unit_id:
        conditions.append(Task.unit_id == unit_id)
    if unit_kind:
        conditions.append(Unit.kind == unit_kind)
        joins.add("unit")
    if status:
        conditions.append(Task.status == status)
    if ladder:
        conditions.append(Task.ladder == ladder)
    if plan_id:
        conditions.append(Task.plan_id == plan_id)
    if measure_id:
        conditions.append(Task.measure_id == measure_id)
    if open_only or overdue_on or due_by:
        conditions.append(Task.status.in_(OPEN_STATUSES))
    if overdue_on:
        conditions.append(Task.deadline < overdue_on)
    if due_by:
        conditions.append(Task.deadline <= due_by)
    if q:
        # % and _ typed by the user are literal characters, not wildcards
        like = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(or_(Measure.title.ilike(like, escape="\\"), Measure.text.ilike(like, escape="\\"),
                              Unit.name.ilike(like, escape="\\")))
        joins |= {"unit", "measure"}
    return conditions, joins


def task_list_stmt(**filters) -> Select:
    """Tasks with their measure and unit in one statement; every filter is a WHERE on an indexed column.

    Filters: user (scope), unit_code, unit_id, status, plan_id, measure_id, ladder, unit_kind, overdue_on,
    due_by, open_only, q (see `_task_conditions`).
    """
    conditions, _joins = _task_conditions(**filters)
    stmt = (select(Task).join(Task.measure).join(Task.unit)
            .options(contains_eager(Task.measure), contains_eager(Task.unit)).where(*conditions))
    return stmt.order_by(Task.deadline, Measure.plan_id, Measure.position, Unit.code)


def task_count_stmt(*, cap: int | None = None, **filters) -> Select:
    """How many tasks `task_list_stmt(**filters)` lists, joining measures and units only when a filter reads them.

    Every task has its measure and unit (NOT NULL foreign keys), so the joins of the list do not change
    the count; without them PostgreSQL counts one table instead of hash-joining every task with its
    measure and unit. With `cap`, counting stops at cap + 1 rows: a list page needs to know "more than
    cap", not to scan all of a national table on every request.
    """
    conditions, joins = _task_conditions(**filters)
    rows = select(Task.id)
    if "measure" in joins:
        rows = rows.join(Task.measure)
    if "unit" in joins:
        rows = rows.join(Task.unit)
    rows = rows.where(*conditions)
    if cap is None:
        return select(func.count()).select_from(rows.subquery())
    return select(func.count()).select_from(rows.limit(cap + 1).subquery())


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
