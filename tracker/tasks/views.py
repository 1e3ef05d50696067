"""Task pages: my tasks, task detail with its timeline and actions, review queue, evidence download."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
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
from tracker.tasks.queries import list_tasks
from workflows import TransitionRefused, WorkflowError, ladder, lifecycle

bp = Blueprint("tasks", __name__)


@bp.route("/")
@login_required
def home():
    """A unit user's own tasks; overseers see every task."""
    return render_template("tasks/home.html", tasks=list_tasks(user=current_user))


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
    return "；".join(e for errors in form.errors.values() for e in errors) or "表单无效，请重试。"


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
            message = f"已{lifecycle.EVENT_LABELS[event]}：任务状态为“{lifecycle.STATE_LABELS[result['to']]}”。"
        elif event in ladder.LADDER_EVENT_LABELS:
            result = ops.fire_ladder(task, event, current_user, comment=form.comment.data, expected_version=form.version.data or None)
            message = f"已{ladder.LADDER_EVENT_LABELS[event]}：督办等级为“{ladder.LADDER_LABELS[result['to']]}”。"
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
    return _done(task, "进展已报送。")


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
    return _done(task, f"已上传佐证材料“{item.filename}”。")


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
    return _done(task, "延期申请已提交，" + ("须由领导小组审批。" if req.needs_leadership else "等待督学审批。"))


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
    return _done(task, "已同意延期。" if form.decision.data == "approve" else "已驳回延期申请。")


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
