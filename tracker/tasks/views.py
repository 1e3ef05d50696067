"""Task pages: my tasks, task detail with its timeline and actions, review queue, evidence download."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker.errors import ServiceError
from tracker.extensions import db
from tracker.permissions import roles_required, task_or_404
from tracker.tasks import evidence as evidence_store
from tracker.tasks import operations as ops
from tracker.tasks.forms import ActionForm, DecisionForm, EvidenceForm, ExtensionForm, ProgressForm
from tracker.tasks.models import Evidence, ExtensionRequest, ProgressReport, Task, TaskEvent
from tracker.clock import today
from tracker.plans.models import Measure
from tracker.plans.models import Plan
from tracker.tasks.filters import TaskFilterForm, choices
from tracker.tasks.queries import list_tasks, task_count_stmt, task_list_stmt
from tracker.units.models import Unit
from workflows import TransitionRefused, WorkflowError, ladder, lifecycle

bp = Blueprint("tasks", __name__)


@bp.route("/")
@login_required
def home():
    """A unit's desk: open tasks by deadline, what is due this week, what was returned."""
    if not current_user.has_role("unit"):
        return redirect(url_for("tasks.index"))
    from tracker.tasks.calendar import calendar_token

    day = today()
    open_tasks = list_tasks(user=current_user, open_only=True)
    return render_template(
        "tasks/home.html", tasks=open_tasks,
        calendar_url=url_for("tasks.calendar_feed", user_id=current_user.id, token=calendar_token(current_user), _external=True),
        due_this_week=[t for t in open_tasks if day <= t.deadline <= day + timedelta(days=7)],
        returned=[t for t in open_tasks if t.status == "returned"],
        overdue=[t for t in open_tasks if t.deadline < day],
        done_count=len(list_tasks(user=current_user, status="completed")),
    )


PER_PAGE = 50
#: the list says "more than 1000" rather than counting every task of a national table on each request
COUNT_CAP = 1000


@bp.route("/tasks")
@login_required
def index():
    """Every task the user may see, with filters and pages."""
    form = TaskFilterForm(request.args)
    plan_stmt = select(Plan.id, Plan.title).order_by(Plan.id)
    if current_user.has_role("unit"):  # only the plans the unit has tasks in
        plan_stmt = plan_stmt.where(Plan.id.in_(select(Task.plan_id).where(Task.unit_id == current_user.unit_id)))
    plans = db.session.execute(plan_stmt).all()
    form.plan.choices = choices([("", _("全部方案")), *((str(i), t) for i, t in plans)])
    plan_id = request.args.get("plan", type=int)
    if current_user.has_role("unit"):
        # a unit chooses among the measures it actually has tasks for
        measure_stmt = (select(Measure.id, Measure.number, Measure.title).join(Task, Task.measure_id == Measure.id)
                        .where(Task.unit_id == current_user.unit_id).distinct())
    elif plan_id:
        measure_stmt = select(Measure.id, Measure.number, Measure.title).where(Measure.plan_id == plan_id)
    else:
        measure_stmt = None  # measures are listed once a plan is chosen: a national list would be tens of thousands
    measures = db.session.execute(measure_stmt).all() if measure_stmt is not None else []
    form.measure.choices = choices([("", _("全部措施") if measure_stmt is not None else _("（先选择方案）")),
                                    *((str(i), _("（%(number)s）%(title)s", number=n, title=t))
                                      for i, n, t in sorted(measures, key=lambda m: m[0]))])
    if not current_user.has_role("unit"):
        form.county.choices = _unit_choices("county", plan_id, form.county.data, _("全部县市"))
        form.department.choices = _unit_choices("department", plan_id, form.department.data, _("全部部门"))
    filters = form.filters()
    overdue_on = today() if form.overdue.data else None
    stmt = task_list_stmt(user=current_user, overdue_on=overdue_on, **filters)
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False, count=False)
    total = db.session.scalar(task_count_stmt(user=current_user, overdue_on=overdue_on, cap=COUNT_CAP, **filters))
    capped = total > COUNT_CAP
    if capped:  # "more than COUNT_CAP": the pages go on while they are full
        total = max(total, (page.page - 1) * PER_PAGE + len(page.items) + (len(page.items) == PER_PAGE))
    page.total = total
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("tasks/index.html", form=form, page=page, tasks=page.items, args=args, capped=capped,
                           count_cap=COUNT_CAP)


#: a filter list of counties or departments longer than this waits for a plan to be chosen (as measures do):
#: thousands of options make every page heavy and no one scrolls them
UNIT_LIST_CAP = 500


def _unit_choices(kind: str, plan_id: int | None, selected, everything: str):
    """The county or department filter list: the plan's units of that kind (all when no plan is chosen), or,
    beyond UNIT_LIST_CAP, only the one already selected."""
    stmt = select(Unit.id, Unit.name).where(Unit.kind == kind).order_by(Unit.code)
    if plan_id:
        stmt = stmt.where(Unit.id.in_(select(Task.unit_id).where(Task.plan_id == plan_id)))
    units = db.session.execute(stmt.limit(UNIT_LIST_CAP + 1)).all()
    if len(units) <= UNIT_LIST_CAP:
        return choices([("", everything), *((str(i), n) for i, n in units)])
    chosen = []
    if selected and str(selected).isdigit():
        chosen = db.session.execute(select(Unit.id, Unit.name).where(Unit.id == int(selected), Unit.kind == kind)).all()
    return choices([("", everything if plan_id else _("（先选择方案）")), *((str(i), n) for i, n in chosen)])


def _timeline(task: Task) -> list[TaskEvent]:
    return list(db.session.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id)
                                   .options(selectinload(TaskEvent.actor)).order_by(TaskEvent.created_at, TaskEvent.id)))


@bp.route("/tasks/<int:task_id>")
@login_required
def detail(task_id: int):
    task = task_or_404(task_id, current_user)
    ctx = ops.context(task, current_user)
    events = lifecycle.allowed_events(task.status, ctx) if current_user.has_role("unit", "supervisor", "admin") else []
    ladder_events = ladder.allowed_events(task.ladder, ctx) if current_user.has_role("supervisor") else []
    is_owner = current_user.has_role("unit") and current_user.unit_id == task.unit_id
    extensions = db.session.scalars(select(ExtensionRequest).where(ExtensionRequest.task_id == task.id)
                                    .order_by(ExtensionRequest.id.desc())).all()
    return render_template(
        "tasks/detail.html", task=task, events=events, ladder_events=ladder_events, is_owner=is_owner,
        timeline=_timeline(task), extensions=extensions,
        progress=db.session.scalars(select(ProgressReport).where(ProgressReport.task_id == task.id)
                                    .order_by(ProgressReport.id.desc())).all(),
        evidence=db.session.scalars(select(Evidence).where(Evidence.task_id == task.id).order_by(Evidence.id)).all(),
        action_form=ActionForm(version=task.version), progress_form=ProgressForm(version=task.version),
        evidence_form=EvidenceForm(version=task.version), extension_form=ExtensionForm(version=task.version),
        decision_form=DecisionForm(), requires_reason=lambda e: lifecycle.requires_reason(e, current_user.role.value),
        ladder_requires_reason=lambda e: ladder.requires_reason(e, current_user.role.value),
    )


def _done(task: Task, message: str):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("tasks.detail", task_id=task.id))


def _failed(task: Task, exc: Exception):
    db.session.rollback()
    flash(str(exc), "danger")
    status = getattr(exc, "status", 409 if isinstance(exc, TransitionRefused) else 400)
    return redirect(url_for("tasks.detail", task_id=task.id)), 303 if status else 303


def _form_errors(form) -> str:
    return _("；").join(str(e) for errors in form.errors.values() for e in errors) or _("表单无效，请重试。")


@bp.route("/tasks/<int:task_id>/fire", methods=["POST"])
@login_required
def fire(task_id: int):
    task = task_or_404(task_id, current_user)
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_form_errors(form), "danger")
        return redirect(url_for("tasks.detail", task_id=task.id))
    event = form.event.data
    try:
        if event in lifecycle.EVENT_LABELS:
            result = ops.fire(task, event, current_user, comment=form.comment.data, expected_version=form.version.data or None)
            message = _("已%(action)s：任务状态为“%(state)s”。", action=str(lifecycle.EVENT_LABELS[event]),
                        state=str(lifecycle.STATE_LABELS[result["to"]]))
        elif event in ladder.LADDER_EVENT_LABELS:
            result = ops.fire_ladder(task, event, current_user, comment=form.comment.data, expected_version=form.version.data or None)
            message = _("已%(action)s：督办等级为“%(level)s”。", action=str(ladder.LADDER_EVENT_LABELS[event]),
                        level=str(ladder.LADDER_LABELS[result["to"]]))
        else:
            abort(400)
    except (ServiceError, WorkflowError) as exc:
        return _failed(task, exc)
    return _done(task, message)


@bp.route("/tasks/<int:task_id>/progress", methods=["POST"])
@login_required
def progress(task_id: int):
    task = task_or_404(task_id, current_user)
    form = ProgressForm()
    if not form.validate_on_submit():
        flash(_form_errors(form), "danger")
        return redirect(url_for("tasks.detail", task_id=task.id))
    try:
        ops.report_progress(task, current_user, form.percent.data, form.text.data, expected_version=form.version.data or None)
    except ServiceError as exc:
        return _failed(task, exc)
    return _done(task, _("进展已报送。"))


@bp.route("/tasks/<int:task_id>/evidence", methods=["POST"])
@login_required
def upload(task_id: int):
    task = task_or_404(task_id, current_user)
    form = EvidenceForm()
    if not form.validate_on_submit():
        flash(_form_errors(form), "danger")
        return redirect(url_for("tasks.detail", task_id=task.id))
    upload = form.file.data
    try:
        item = ops.add_evidence(task, current_user, upload.stream, upload.filename or "", form.note.data,
                                expected_version=form.version.data or None)
    except ServiceError as exc:
        return _failed(task, exc)
    return _done(task, _("已上传佐证材料“%(name)s”。", name=item.filename))


@bp.route("/evidence/<int:evidence_id>")
@login_required
def download(evidence_id: int):
    item = db.session.get(Evidence, evidence_id) or abort(404)
    task_or_404(item.task_id, current_user)
    if item.sha256 is None:
        abort(404)
    path = evidence_store.stored_path(item.sha256)
    if not path.exists():
        abort(410)
    return send_file(path, mimetype=item.stored.mimetype, as_attachment=True, download_name=item.filename,
                     conditional=True, max_age=0)


@bp.route("/tasks/<int:task_id>/extension", methods=["POST"])
@login_required
def extension(task_id: int):
    task = task_or_404(task_id, current_user)
    form = ExtensionForm()
    if not form.validate_on_submit():
        flash(_form_errors(form), "danger")
        return redirect(url_for("tasks.detail", task_id=task.id))
    try:
        req = ops.request_extension(task, current_user, form.new_deadline.data, form.reason.data,
                                    expected_version=form.version.data or None)
    except ServiceError as exc:
        return _failed(task, exc)
    return _done(task, _("延期申请已提交，须由领导小组审批。") if req.needs_leadership else _("延期申请已提交，等待督学审批。"))


@bp.route("/extensions/<int:request_id>/decide", methods=["POST"])
@roles_required("supervisor", "leadership")
def decide(request_id: int):
    req = db.session.get(ExtensionRequest, request_id) or abort(404)
    task = task_or_404(req.task_id, current_user)
    form = DecisionForm()
    if not form.validate_on_submit() or form.decision.data not in ("approve", "reject"):
        flash(_form_errors(form), "danger")
        return redirect(url_for("tasks.detail", task_id=task.id))
    try:
        ops.decide_extension(req, current_user, form.decision.data == "approve", form.comment.data)
    except ServiceError as exc:
        return _failed(task, exc)
    return _done(task, _("已同意延期。") if form.decision.data == "approve" else _("已驳回延期申请。"))


@bp.route("/review")
@roles_required("supervisor", "leadership", "admin")
def review():
    """The supervisors' queue: submissions waiting for verification and pending extension requests."""
    submitted = list_tasks(user=current_user, status="submitted")
    pending = db.session.scalars(select(ExtensionRequest).where(ExtensionRequest.status == "pending")
                                 .options(selectinload(ExtensionRequest.task).selectinload(Task.unit),
                                          selectinload(ExtensionRequest.task).selectinload(Task.measure))
                                 .order_by(ExtensionRequest.created_at)).all()
    return render_template("tasks/review.html", tasks=submitted, pending=pending)


@bp.route("/calendar/<int:user_id>/<token>.ics")
def calendar_feed(user_id: int, token: str):
    """No session: calendar apps fetch this URL on their own; the secret in it is the credential."""
    from flask import Response

    from tracker.auth.models import User
    from tracker.clock import get_clock
    from tracker.tasks import calendar

    user = db.session.get(User, user_id)
    if user is None or not calendar.valid_token(user, token):
        abort(404)
    tasks = list_tasks(user=user, open_only=True)
    with force_locale(user.locale or "zh"):  # the feed reads in its owner's language
        body = calendar.render(tasks, name=_("督办任务 · %(name)s", name=user.unit.name if user.unit else user.display_name),
                               link_for=lambda t: url_for("tasks.detail", task_id=t.id, _external=True),
                               stamp=get_clock().now(), host=request.host.split(":")[0])
    return Response(body, mimetype="text/calendar", headers={"Content-Disposition": "inline; filename=tasks.ics",
                                                             "Cache-Control": "private, max-age=300"})
