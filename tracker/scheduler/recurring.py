"""Period roll-over: measures marked ``recurring: yearly`` in the plan file get a task per year.

When a year starts (the job runs daily, so a scheduler that was down catches up on its next run),
every responsible unit of such a measure gets the task of that year: ``period='2027'``, from
1 January to 31 December. One ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`` per run: the
unique constraint (measure, unit, period) makes it idempotent, and two schedulers racing create
each task once. A plan's recurrence stops after its last milestone year (2033 for Chuxiong).
Years before the job first ran are not back-filled: a yearly duty of a year that is over can no
longer be done.
"""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import func, insert, literal, select

from tracker.extensions import db
from tracker.notices.outbox import Audience, Notice, insert_rows
from tracker.plans.models import Measure, MeasureUnit, Milestone
from tracker.tasks.models import Task, TaskEvent

RECURRENCES = {"yearly"}


def recurring_measures() -> list[tuple[int, int]]:
    """(measure id, plan id) of measures whose plan-file entry says ``recurring: yearly``."""
    rows = db.session.execute(select(Measure.id, Measure.plan_id, Measure.extra))
    return [(mid, pid) for mid, pid, extra in rows if str((extra or {}).get("recurring", "")).strip() in RECURRENCES]


def _insert_ignore(table):
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


def roll_over(today: date, now: datetime, actor_id: int, audience: Audience | None, task_path: str, base_url: str) -> dict:
    """Create this year's tasks of the recurring measures; returns what was created."""
    measures = recurring_measures()
    year = today.year
    if not measures:
        return {"period": str(year), "created": 0, "measures": 0}
    last_year = dict(db.session.execute(select(Milestone.plan_id, func.max(Milestone.due)).group_by(Milestone.plan_id)).all())
    ids = [mid for mid, pid in measures if last_year.get(pid) is None or year <= last_year[pid].year]
    if not ids:
        return {"period": str(year), "created": 0, "measures": 0, "note": _("方案期已结束")}
    t = Task.__table__
    start, end = date(year, 1, 1), date(year, 12, 31)
    source = (select(Measure.plan_id, MeasureUnit.measure_id, MeasureUnit.unit_id, literal(str(year)), literal(start),
                     literal(end), literal("recurring"), literal("assigned"), literal("normal"), MeasureUnit.is_lead,
                     literal(0), literal(now), literal(now), literal(1))
              .join(Measure, Measure.id == MeasureUnit.measure_id)
              .where(MeasureUnit.measure_id.in_(ids)))
    stmt = (_insert_ignore(t)
            .from_select(["plan_id", "measure_id", "unit_id", "period", "start_date", "deadline", "deadline_source",
                          "status", "ladder", "is_lead", "progress_percent", "created_at", "updated_at", "version"], source)
            .on_conflict_do_nothing()
            .returning(t.c.id, t.c.unit_id, t.c.measure_id))
    created = db.session.execute(stmt).all()
    if created:
        comment = _("系统自动：生成%(year)s年度任务（周期性措施）", year=year)
        db.session.execute(insert(TaskEvent.__table__), [
            {"task_id": r.id, "actor_id": actor_id, "event": "rollover", "from_status": None, "to_status": "assigned",
                 "from_ladder": None, "to_ladder": "normal", "comment": comment,
                 "data": {"period": str(year)}, "created_at": now} for r in created])
    notices = 0
    if created and audience is not None:
        labels = {m.id: m for m in db.session.execute(select(Measure.id, Measure.number, Measure.title).where(Measure.id.in_(ids)))}
        rows = []
        for r in created:
            m = labels[r.measure_id]
            measure = f"（{m.number}）{m.title}"  # i18n: data — the measure's number and title from the plan
            subject = _("【年度任务】%(year)s年度任务“%(measure)s”已生成，完成时限%(year)s年12月31日", year=year, measure=measure)
            link = base_url + task_path.format(id=r.id)
            n = Notice(kind="rollover", key=f"rollover:task={r.id}", subject=subject,
                       body=_("%(subject)s。请及时签收并按年度要求办理。\n查看任务：%(link)s", subject=subject, link=link),
                       link=link, task_id=r.id,
                       data={"task_id": r.id, "title": measure, "deadline": end.isoformat(), "link": link,
                             "days_left": (end - today).days})
            rows += audience.rows_for(n, audience.unit_users(r.unit_id))
        notices = insert_rows(rows)
    return {"period": str(year), "created": len(created), "measures": len(ids), "notices_queued": notices}
