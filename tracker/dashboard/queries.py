"""Dashboard figures, each one grouped query over indexed columns."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select

from tracker.extensions import db
from tracker.plans.models import Measure, Plan
from tracker.tasks.models import Task
from tracker.tasks.queries import OPEN_STATUSES, task_list_stmt
from tracker.units.models import Unit
from workflows import policy


@dataclass
class Cell:
    task_id: int
    status: str
    ladder: str
    colour: str


def default_plan() -> Plan | None:
    return db.session.scalar(select(Plan).order_by(Plan.issued_on.desc().nulls_last(), Plan.id).limit(1))


def status_counts(plan_id: int) -> dict[str, int]:
    return dict(db.session.execute(select(Task.status, func.count()).where(Task.plan_id == plan_id).group_by(Task.status)).all())


def ladder_counts(plan_id: int) -> dict[str, int]:
    stmt = (select(Task.ladder, func.count()).where(Task.plan_id == plan_id, Task.status.in_(OPEN_STATUSES))
            .group_by(Task.ladder))
    return dict(db.session.execute(stmt).all())


def county_matrix(plan_id: int) -> tuple[list[Unit], list[Measure], dict[tuple[int, int], Cell]]:
    """County × measure: the colour of each county's task for each measure (one query for the cells)."""
    counties = db.session.scalars(select(Unit).where(Unit.kind == "county", Unit.id.in_(
        select(Task.unit_id).where(Task.plan_id == plan_id))).order_by(Unit.code)).all()
    measures = db.session.scalars(select(Measure).where(Measure.plan_id == plan_id).order_by(Measure.section_id, Measure.position)).all()
    rows = db.session.execute(select(Task.id, Task.unit_id, Task.measure_id, Task.status, Task.ladder)
                              .join(Unit, Unit.id == Task.unit_id)
                              .where(Task.plan_id == plan_id, Unit.kind == "county", Task.period == "")).all()
    cells = {(r.unit_id, r.measure_id): Cell(r.id, r.status, r.ladder,
                                             "done" if r.status == "completed" else
                                             "grey" if r.status == "cancelled" else
                                             policy.rag(r.ladder, False, False, False)) for r in rows}
    return counties, measures, cells


def most_overdue(plan_id: int, today: date, limit: int = 20) -> list[Task]:
    stmt = task_list_stmt(plan_id=plan_id, overdue_on=today).limit(limit)
    return list(db.session.scalars(stmt).unique())


def overdue_by_unit(plan_id: int | None, today: date) -> list[dict]:
    """Overdue and escalated open tasks grouped by unit: counts and the worst days overdue."""
    stmt = (select(Unit.id, Unit.name, Unit.kind, func.count(Task.id), func.min(Task.deadline),
                   func.sum(case((Task.ladder.in_(("escalated", "interview", "accountability")), 1), else_=0)))
            .join(Task, Task.unit_id == Unit.id)
            .where(Task.status.in_(OPEN_STATUSES), Task.deadline < today)
            .group_by(Unit.id, Unit.name, Unit.kind).order_by(func.min(Task.deadline), Unit.name))
    if plan_id:
        stmt = stmt.where(Task.plan_id == plan_id)
    return [{"unit_id": i, "name": n, "kind": k, "overdue": c, "worst_days": (today - d).days, "escalated": int(e or 0)}
            for i, n, k, c, d, e in db.session.execute(stmt)]
