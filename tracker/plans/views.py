"""Plan pages: plan → section → measure → tasks, as issued."""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from tracker.extensions import db
from tracker.plans.models import Measure, Plan
from tracker.tasks.queries import list_tasks, measure_task_counts, plan_outline

bp = Blueprint("plans", __name__, url_prefix="/plans")


@bp.route("/")
@login_required
def index():
    plans = db.session.scalars(select(Plan).order_by(Plan.issued_on.desc(), Plan.id)).all()
    return render_template("plans/index.html", plans=plans)


@bp.route("/<int:plan_id>")
@login_required
def detail(plan_id: int):
    plan = db.session.get(Plan, plan_id) or abort(404)
    return render_template("plans/detail.html", plan=plan, sections=plan_outline(plan.id),
                           counts=measure_task_counts(plan.id, user=current_user))


@bp.route("/measures/<int:measure_id>")
@login_required
def measure(measure_id: int):
    measure = db.session.get(Measure, measure_id) or abort(404)
    tasks = list_tasks(user=current_user, measure_id=measure.id)
    return render_template("plans/measure.html", measure=measure, plan=measure.section.plan, tasks=tasks)
