"""Leadership dashboard, weekly report, ledgers."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from tracker.clock import today
from tracker.dashboard import ledgers, queries, svg
from tracker.extensions import db
from tracker.permissions import roles_required
from tracker.plans.models import Measure, Plan
from tracker.tasks.models import Task
from tracker.tasks.queries import task_list_stmt
from workflows import LADDER_LABELS, STATE_LABELS

bp = Blueprint("dashboard", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _plan() -> Plan:
    plan_id = request.args.get("plan", type=int)
    plan = db.session.get(Plan, plan_id) if plan_id else queries.default_plan()
    if plan is None:
        abort(404)
    return plan


def _xlsx(data: bytes, filename: str) -> Response:
    from urllib.parse import quote

    return Response(data, mimetype=XLSX, headers={
        "Content-Disposition": f"attachment; filename=ledger.xlsx; filename*=UTF-8''{quote(filename)}"})


@bp.route("/dashboard")
@roles_required("leadership", "supervisor", "admin")
def index():
    plan = _plan()
    day = today()
    counts = queries.status_counts(plan.id)
    counties, measures, cells = queries.county_matrix(plan.id)
    status_chart = svg.bar_chart([(str(STATE_LABELS[s]), counts.get(s, 0)) for s in STATE_LABELS], title=_("任务状态"),
                                 value_text=lambda n: ngettext("%(num)d项", "%(num)d项", int(n)), uid="status-chart")
    ladder = queries.ladder_counts(plan.id)
    from tracker.dashboard import milestones

    progress = milestones.plan_progress(plan, day)
    return render_template(
        "dashboard/index.html", plan=plan, plans=db.session.scalars(select(Plan).order_by(Plan.id)).all(),
        counts=counts, total=sum(counts.values()), ladder=ladder, counties=counties, measures=measures, cells=cells,
        overdue=queries.most_overdue(plan.id, day), status_chart=status_chart, progress=progress,
        progress_chart=svg.progress_chart([(_("%(year)d年底", year=m["due"].year), m["target"], m["actual"])
                                           for m in progress["milestones"]],
                                          title=_("达标县市比例与目标")) if progress["milestones"] else None,
        day=day, ladder_labels=LADDER_LABELS,
    )


@bp.route("/reports/weekly")
@roles_required("leadership", "supervisor", "admin")
def weekly():
    """A printable page for the leadership meeting: overdue and escalated work by county and department."""
    plan = _plan()
    day = today()
    tasks = list(db.session.scalars(task_list_stmt(plan_id=plan.id, overdue_on=day)).unique())
    by_unit: dict[str, list[Task]] = {}
    for t in tasks:
        by_unit.setdefault(t.unit.kind_value, []).append(t)
    return render_template("dashboard/weekly.html", plan=plan, day=day, counties=by_unit.get("county", []),
                           departments=by_unit.get("department", []), summary=queries.overdue_by_unit(plan.id, day),
                           counts=queries.status_counts(plan.id))


@bp.route("/ledgers/tasks.xlsx")
@login_required
def task_ledger():
    """The plan's full task ledger (a unit user gets its own unit's rows)."""
    plan = _plan()
    stmt = task_list_stmt(user=current_user, plan_id=plan.id).options(contains_eager(Task.measure).selectinload(Measure.section))
    rows = ledgers.task_rows(list(db.session.scalars(stmt).unique()), today())
    name = _("任务台账")
    data = ledgers.workbook(name, ledgers.task_header(), rows, ledgers.TASK_WIDTHS)
    return _xlsx(data, f"{plan.title}-{name}-{today().isoformat()}.xlsx")


@bp.route("/ledgers/overdue.xlsx")
@login_required
def overdue_ledger():
    plan = _plan()
    stmt = task_list_stmt(user=current_user, plan_id=plan.id, overdue_on=today()).options(
        contains_eager(Task.measure).selectinload(Measure.section))
    rows = ledgers.task_rows(list(db.session.scalars(stmt).unique()), today())
    rows.sort(key=lambda r: -(r[10] or 0))
    name = _("逾期清单")
    data = ledgers.workbook(name, ledgers.task_header(), rows, ledgers.TASK_WIDTHS)
    return _xlsx(data, f"{plan.title}-{name}-{today().isoformat()}.xlsx")
