"""Plans, their sections and measures, and the responsible units — read-only, for every signed-in role.

Task counts are scoped like the pages: a unit user counts only its own unit's tasks.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from tracker.api import bp, serialize
from tracker.api.errors import ApiError
from tracker.api.openapi import ID_MAX, array, integer, obj, operation, page_of, page_params, path_id, query, string
from tracker.extensions import db
from tracker.plans.models import Measure, MeasureUnit, Plan, Section
from tracker.tasks.queries import measure_task_counts, plan_outline, status_counts
from tracker.units.models import Unit


def like_escape(text: str) -> str:
    """A search word taken literally: %, _ and the escape character itself lose their LIKE meaning."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def paginate(stmt, call, shape) -> dict:
    page = db.paginate(stmt, page=call.query["page"], per_page=call.query["per_page"], error_out=False,
                       count=True)
    return {"items": [shape(x) for x in page.items], "total": page.total or 0, "page": page.page,
            "per_page": page.per_page, "pages": page.pages}


@operation(bp, "GET", "/plans", summary=_l("实施方案列表"), tag="plans",
           response=obj(["items"], items=array(serialize.PLAN)))
def plans(call):
    sections = dict(db.session.execute(select(Section.plan_id, func.count()).group_by(Section.plan_id)).all())
    measures = dict(db.session.execute(select(Measure.plan_id, func.count()).group_by(Measure.plan_id)).all())
    rows = db.session.scalars(select(Plan).order_by(Plan.issued_on.desc(), Plan.id)).all()
    return {"items": [serialize.plan(p, sections.get(p.id, 0), measures.get(p.id, 0)) for p in rows]}


@operation(bp, "GET", "/plans/{plan_id}", summary=_l("实施方案详情：部分、措施、责任单位与任务数"), tag="plans",
           params=[path_id("plan_id")], response=serialize.PLAN_DETAIL)
def plan_detail(call, plan_id: int):
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise ApiError(404, _("找不到该实施方案。"))
    outline = plan_outline(plan.id)
    counts = measure_task_counts(plan.id, user=call.user)
    out = serialize.plan(plan, len(outline), sum(len(s.measures) for s in outline))
    out.update(preamble=plan.preamble, task_counts=status_counts(plan.id, user=call.user),
               milestones=[{"due": serialize.iso(m.due), "min_share": m.min_share, "text": m.text}
                           for m in plan.milestones],
               sections=[{"id": s.id, "number": s.number, "title": s.title, "position": s.position,
                          "measures": [serialize.measure(m, counts.get(m.id, {})) for m in s.measures]}
                         for s in outline])
    return out


@operation(bp, "GET", "/measures", summary=_l("措施列表（可按方案筛选）"), tag="plans",
           params=[query("plan_id", integer(1, ID_MAX), _l("方案 id")), *page_params()],
           response=page_of(serialize.MEASURE))
def measures(call):
    stmt = (select(Measure).options(selectinload(Measure.unit_links).selectinload(MeasureUnit.unit))
            .order_by(Measure.plan_id, Measure.position))
    if call.query.get("plan_id"):
        stmt = stmt.where(Measure.plan_id == call.query["plan_id"])
    return paginate(stmt, call, serialize.measure)


@operation(bp, "GET", "/measures/{measure_id}", summary=_l("措施详情与任务数"), tag="plans",
           params=[path_id("measure_id")], response=serialize.MEASURE)
def measure_detail(call, measure_id: int):
    measure = db.session.get(Measure, measure_id)
    if measure is None:
        raise ApiError(404, _("找不到该措施。"))
    counts = measure_task_counts(measure.plan_id, user=call.user).get(measure.id, {})
    return serialize.measure(measure, counts)


@operation(bp, "GET", "/units", summary=_l("责任单位列表"), tag="plans",
           params=[query("kind", string(enum=["department", "county"]), _l("单位类别")),
                   query("q", string(100), _l("按代码、名称筛选")), *page_params()],
           response=page_of(serialize.UNIT))
def units(call):
    stmt = select(Unit).order_by(Unit.kind, Unit.code)
    if call.query.get("kind"):
        stmt = stmt.where(Unit.kind == call.query["kind"])
    if call.query.get("q"):
        like = "%" + like_escape(call.query["q"].strip()) + "%"
        stmt = stmt.where(or_(Unit.code.ilike(like, escape="\\"), Unit.name.ilike(like, escape="\\")))
    return paginate(stmt, call, serialize.unit)
