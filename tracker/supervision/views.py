"""Supervision pages: the leadership board and instructions, flags, interviews with their rectification lists
and accountability records, and each unit's accountability file (page and .xlsx).

Views parse, check access (roles declared on the route; objects another unit may not see answer 404 before
any role check answers 403), call one operation, commit once, flash, redirect.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from tracker.clock import today, utcnow
from tracker.errors import ServiceError
from tracker.extensions import db
from tracker.indicators.models import CountyFlag
from tracker.permissions import roles_required
from tracker.plans.models import Measure, Plan, Section
from tracker.supervision import accountability as acc_ops
from tracker.supervision import archive
from tracker.supervision import board as board_ops
from tracker.supervision import flags as flag_store
from tracker.supervision import operations as ops
from tracker.supervision import reasons as reason_ops
from tracker.supervision.access import (
    INSTRUCTORS,
    READERS,
    SUPERVISORS,
    interview_or_404,
    interview_scope,
    item_or_404,
    record_or_404,
    unit_or_404,
    unit_user_unit,
)
from tracker.supervision.forms import (
    AccountabilityForm,
    CancelForm,
    CloseForm,
    HoldForm,
    InstructionForm,
    InterviewForm,
    ItemForm,
    PostForm,
    ResolveForm,
)
from tracker.supervision.models import (
    INTERVIEW_EVENT_LABELS,
    INTERVIEW_STATUS_LABELS,
    AccountabilityRecord,
    Interview,
    InterviewEvent,
    InterviewStatus,
    RectificationItem,
)
from tracker.tasks import evidence as evidence_store
from tracker.tasks.filters import choices
from tracker.ui import cn_date
from tracker.units.models import Unit
from workflows import WorkflowError

bp = Blueprint("supervision", __name__, url_prefix="/supervision")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
def _role(*roles: str) -> None:
    if not current_user.has_role(*roles):
        abort(403)


def _errors(form) -> str:
    return _("；").join(str(e) for errors in form.errors.values() for e in errors) or _("表单无效，请重试。")


def _failed(exc: Exception, target: str):
    db.session.rollback()
    flash(getattr(exc, "message", None) or str(exc), "danger")
    return redirect(target, 303)


def _done(message: str, target: str):
    db.session.commit()
    flash(message, "success")
    return redirect(target, 303)


def _refresh_flags() -> None:
    """Recompute flags on page load; a concurrent refresh winning a race is not an error for a reader."""
    try:
        flag_store.refresh(today())
        db.session.commit()
    except (ServiceError, StaleDataError):
        db.session.rollback()


@bp.app_template_filter("reason_text")
def reason_text(reason: dict) -> str:
    """An interview's reason in the reader's language: ``{{ r|reason_text }}``."""
    return reason_ops.reason_text(reason)


@bp.app_template_filter("local_time")
def local_time(value) -> str:
    """An instant (naive = UTC) in the bureau's time zone, written as the reader writes dates."""
    return cn_date(value)


# ── leadership board ───────────────────────────────────────────────────────────────────────
@bp.route("/board")
@roles_required(*READERS)
def board():
    tab = request.args.get("tab", "county")
    if tab not in board_ops.TABS:
        tab = "county"
    plan_id = request.args.get("plan", type=int)
    day = today()
    rows = board_ops.board_rows(day, None if tab == "measure" else tab, plan_id)
    return render_template("supervision/board.html", tab=tab, tabs=board_ops.TABS, groups=board_ops.grouped(rows, tab),
                           total=len(rows), limit=board_ops.LIMIT, day=day, plan_id=plan_id,
                           plans=db.session.scalars(select(Plan).order_by(Plan.id)).all(),
                           form=InstructionForm(), can_instruct=current_user.has_role(*INSTRUCTORS))


def _board_back() -> str:
    tab = request.form.get("tab") or "county"
    return url_for("supervision.board", tab=tab if tab in board_ops.TABS else "county")


@bp.route("/board/instruct", methods=["POST"])
@roles_required(*INSTRUCTORS)
def instruct():
    form = InstructionForm()
    if not form.validate_on_submit():
        flash(_errors(form), "danger")
        return redirect(_board_back(), 303)
    try:
        instruction = board_ops.instruct(current_user, request.form.getlist("task_ids"), form.text.data, form.new_deadline.data)
    except (ServiceError, WorkflowError) as exc:
        return _failed(exc, _board_back())
    if instruction.new_deadline:
        message = _("已对 %(num)s 项任务作出批示，完成时限调整为%(date)s，责任单位已收到通知。", num=len(instruction.links),
                    date=instruction.new_deadline.isoformat())
    else:
        message = _("已对 %(num)s 项任务作出批示，责任单位已收到通知。", num=len(instruction.links))
    return _done(message, _board_back())


@bp.route("/board/review", methods=["POST"])
@roles_required(*INSTRUCTORS)
def review():
    if not PostForm().validate_on_submit():
        abort(400)
    try:
        added = board_ops.acknowledge(current_user, request.form.getlist("task_ids"))
    except ServiceError as exc:
        return _failed(exc, _board_back())
    return _done(_("已标记 %(num)s 项为已阅。", num=added), _board_back())


@bp.route("/instructions")
@roles_required(*READERS)
def instructions():
    return render_template("supervision/instructions.html", instructions=board_ops.instruction_list())


# ── flags ──────────────────────────────────────────────────────────────────────────────────
@bp.route("/flags")
@roles_required(*READERS)
def flags():
    _refresh_flags()
    rows = flag_store.open_flags(request.args.get("kind") or None)
    return render_template("supervision/flags.html", flags=rows, kinds=flag_store.KIND_LABELS, kind=request.args.get("kind", ""),
                           reasons=flag_store.reasons, active=flag_store.active_interviews({f.unit_id for f in rows}),
                           form=ResolveForm(), can_act=current_user.has_role(*SUPERVISORS))


@bp.route("/flags/<int:flag_id>/resolve", methods=["POST"])
@roles_required(*SUPERVISORS)
def resolve_flag(flag_id: int):
    flag = db.session.get(CountyFlag, flag_id) or abort(404)
    form = ResolveForm()
    if not form.validate_on_submit():
        flash(_errors(form), "danger")
        return redirect(url_for("supervision.flags"), 303)
    try:
        flag_store.resolve(flag, current_user, "manual", form.note.data or "")
    except ServiceError as exc:
        return _failed(exc, url_for("supervision.flags"))
    return _done(_("已标记为已处理。"), url_for("supervision.flags"))


# ── interviews ─────────────────────────────────────────────────────────────────────────────
@bp.route("/interviews")
@login_required
def interviews():
    if not (current_user.has_role(*READERS) or unit_user_unit(current_user)):
        abort(403)
    ops.close_finished_interviews()
    db.session.commit()
    stmt = interview_scope(select(Interview).options(selectinload(Interview.unit)), current_user)
    status = request.args.get("status")
    if status in InterviewStatus.__members__:
        stmt = stmt.where(Interview.status == InterviewStatus(status))
    rows = db.session.scalars(stmt.order_by(Interview.scheduled_at.desc(), Interview.id.desc())).all()
    return render_template("supervision/interviews.html", interviews=rows, status=status or "",
                           statuses=INTERVIEW_STATUS_LABELS, can_open=current_user.has_role(*SUPERVISORS))


def _unit_choices() -> list[tuple[str, str]]:
    units = db.session.scalars(select(Unit).order_by(Unit.kind, Unit.code)).all()
    return [(u.code, _("%(unit)s（%(kind)s）", unit=u.name, kind=u.kind_label)) for u in units]


@bp.route("/interviews/new", methods=["GET", "POST"])
@roles_required(*SUPERVISORS)
def new_interview():
    form = InterviewForm()
    code = request.values.get("unit") or ""
    unit = db.session.scalar(select(Unit).where(Unit.code == code)) if code else None
    flag_id = request.values.get("flag", type=int)
    flag = db.session.get(CountyFlag, flag_id) if flag_id else None
    if flag is not None and unit is None:
        unit = flag.unit
    if request.method == "POST":
        target = url_for("supervision.new_interview", unit=unit.code if unit else None, flag=flag.id if flag else None)
        if not form.validate_on_submit() or unit is None:
            flash(_errors(form) if unit is not None else _("请选择被约谈单位。"), "danger")
            return redirect(target, 303)
        try:
            interview = ops.open_interview(current_user, unit, scheduled_at=form.scheduled_at.data, place=form.place.data,
                                           attendees=form.attendees.data, interviewees=form.interviewees.data, flag=flag,
                                           selected=request.form.getlist("reasons"), extra=form.extra.data)
        except ServiceError as exc:
            return _failed(exc, target)
        return _done(_("已发起对%(unit)s的约谈，已通知该单位。", unit=unit.name),
                     url_for("supervision.interview", interview_id=interview.id))
    if unit is not None:
        form.unit.data = unit.code
    if flag is not None:
        form.flag.data = str(flag.id)
    return render_template("supervision/interview_new.html", form=form, unit=unit, flag=flag, units=_unit_choices(),
                           reasons=reason_ops.reasons_for(unit) if unit else [],
                           flag_reasons=flag_store.reasons(flag.kind, flag.detail, flag.year) if flag else [],
                           kind_labels=flag_store.KIND_LABELS)


@bp.route("/interviews/<int:interview_id>")
@login_required
def interview(interview_id: int):
    iv = interview_or_404(interview_id, current_user)
    if ops.sync_interview(iv):
        db.session.commit()
    events = db.session.scalars(select(InterviewEvent).where(InterviewEvent.interview_id == iv.id)
                                .options(selectinload(InterviewEvent.actor)).order_by(InterviewEvent.id)).all()
    items = db.session.scalars(select(RectificationItem).where(RectificationItem.interview_id == iv.id)
                               .options(selectinload(RectificationItem.unit), selectinload(RectificationItem.task))
                               .order_by(RectificationItem.id)).all()
    records = db.session.scalars(select(AccountabilityRecord).where(AccountabilityRecord.interview_id == iv.id)
                                 .order_by(AccountabilityRecord.id)).all()
    is_supervisor = current_user.has_role(*SUPERVISORS)
    item_form = ItemForm()
    if is_supervisor and iv.status_value == "held":
        item_form.unit.choices = choices(_unit_choices())
        item_form.unit.data = iv.unit.code
        measures = db.session.scalars(select(Measure).join(Measure.section)
                                      .order_by(Measure.plan_id, Section.position, Measure.position)).all()
        item_form.measure.choices = choices((m.id, m.label) for m in measures)
        default = reason_ops.default_measure_id(iv)
        item_form.measure.data = str(default) if default else None
    return render_template("supervision/interview.html", iv=iv, events=events, items=items, records=records,
                           event_labels=INTERVIEW_EVENT_LABELS, is_supervisor=is_supervisor, missed=acc_ops.missed,
                           hold_form=HoldForm(), close_form=CloseForm(), cancel_form=CancelForm(), item_form=item_form,
                           acc_form=AccountabilityForm(), day=today(),
                           records_by_item={r.item_id: r for r in records if r.item_id})


def _interview_action(interview_id: int):
    iv = interview_or_404(interview_id, current_user)
    _role(*SUPERVISORS)
    return iv, url_for("supervision.interview", interview_id=iv.id)


@bp.route("/interviews/<int:interview_id>/hold", methods=["POST"])
@login_required
def hold(interview_id: int):
    iv, target = _interview_action(interview_id)
    form = HoldForm()
    if not form.validate_on_submit():
        flash(_errors(form), "danger")
        return redirect(target, 303)
    try:
        ops.hold_interview(iv, current_user, minutes=form.minutes.data, outcome=form.outcome.data,
                           expected_version=form.version.data or None)
    except (ServiceError, WorkflowError) as exc:
        return _failed(exc, target)
    return _done(_("已记录约谈情况，请下达整改清单。"), target)


@bp.route("/interviews/<int:interview_id>/close", methods=["POST"])
@login_required
def close(interview_id: int):
    iv, target = _interview_action(interview_id)
    form = CloseForm()
    if not form.validate_on_submit():
        flash(_errors(form), "danger")
        return redirect(target, 303)
    try:
        ops.close_interview(iv, current_user, comment=form.comment.data, expected_version=form.version.data or None)
    except ServiceError as exc:
        return _failed(exc, target)
    return _done(_("约谈已结束。"), target)


@bp.route("/interviews/<int:interview_id>/cancel", methods=["POST"])
@login_required
def cancel(interview_id: int):
    iv, target = _interview_action(interview_id)
    form = CancelForm()
    if not form.validate_on_submit():
        flash(_errors(form), "danger")
        return redirect(target, 303)
    try:
        ops.cancel_interview(iv, current_user, reason=form.reason.data, expected_version=form.version.data or None)
    except ServiceError as exc:
        return _failed(exc, target)
    return _done(_("约谈已取消，已通知该单位。"), target)


@bp.route("/interviews/<int:interview_id>/items", methods=["POST"])
@login_required
def add_item(interview_id: int):
    iv, target = _interview_action(interview_id)
    form = ItemForm()
    form.unit.choices = _unit_choices()
    form.measure.choices = [(str(i), "") for i in db.session.scalars(select(Measure.id))]
    if not form.validate_on_submit():
        flash(_errors(form), "danger")
        return redirect(target, 303)
    unit = db.session.scalar(select(Unit).where(Unit.code == form.unit.data))
    measure = db.session.get(Measure, int(form.measure.data))
    try:
        item = ops.add_item(iv, current_user, text=form.text.data, unit=unit, deadline=form.deadline.data, measure=measure)
    except ServiceError as exc:
        return _failed(exc, target)
    return _done(_("已下达整改事项 #%(id)s，%(unit)s的任务清单中已生成整改任务。", id=item.id, unit=unit.name), target)


@bp.route("/items/<int:item_id>/accountability", methods=["POST"])
@login_required
def accountability(item_id: int):
    item = item_or_404(item_id, current_user)
    _role(*SUPERVISORS)
    target = url_for("supervision.interview", interview_id=item.interview_id) + f"#item-{item.id}"
    form = AccountabilityForm()
    if not form.validate_on_submit():
        flash(_errors(form), "danger")
        return redirect(target, 303)
    upload = form.file.data
    has_file = upload is not None and getattr(upload, "filename", "")
    try:
        record = acc_ops.record_accountability(item, current_user, type=form.type.data, doc_number=form.doc_number.data,
                                           decided_on=form.decided_on.data, note=form.note.data,
                                           stream=upload.stream if has_file else None, filename=upload.filename if has_file else "")
    except (ServiceError, WorkflowError) as exc:
        return _failed(exc, target)
    return _done(_("已记录问责：%(type)s（%(doc)s）。", type=record.type_label, doc=record.doc_number), target)


@bp.route("/records/<int:record_id>/document")
@login_required
def document(record_id: int):
    record = record_or_404(record_id, current_user)
    if record.sha256 is None:
        abort(404)
    path = evidence_store.stored_path(record.sha256)
    if not path.exists():
        abort(410)
    return send_file(path, mimetype=record.stored.mimetype, as_attachment=True, download_name=record.filename or _("问责决定"),
                     conditional=True, max_age=0)


# ── accountability files ───────────────────────────────────────────────────────────────────
@bp.route("/files")
@login_required
def files():
    if not current_user.has_role(*READERS):
        if unit_user_unit(current_user) is None:
            abort(403)
        return redirect(url_for("supervision.unit_file", code=current_user.unit.code))
    units = db.session.scalars(select(Unit).order_by(Unit.kind, Unit.code)).all()
    interviews_n = dict(db.session.execute(select(Interview.unit_id, func.count()).group_by(Interview.unit_id)).all())
    records_n = dict(db.session.execute(select(AccountabilityRecord.unit_id, func.count())
                                        .group_by(AccountabilityRecord.unit_id)).all())
    flags_n = dict(db.session.execute(select(CountyFlag.unit_id, func.count()).where(CountyFlag.resolved_at.is_(None))
                                      .group_by(CountyFlag.unit_id)).all())
    return render_template("supervision/files.html", units=units, interviews_n=interviews_n, records_n=records_n,
                           flags_n=flags_n)


@bp.route("/files/<code>")
@login_required
def unit_file(code: str):
    unit = unit_or_404(code, current_user)
    return render_template("supervision/file.html", unit=unit, events=archive.unit_file(unit), generated=utcnow())


@bp.route("/files/<code>/export.xlsx")
@login_required
def unit_file_xlsx(code: str):
    unit = unit_or_404(code, current_user)
    data = archive.workbook(unit, archive.unit_file(unit))
    name = _("督办档案-%(unit)s-%(date)s.xlsx", unit=unit.name, date=today().isoformat())
    return Response(data, mimetype=XLSX, headers={
        "Content-Disposition": f"attachment; filename=file.xlsx; filename*=UTF-8''{quote(name)}"})
