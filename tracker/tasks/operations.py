"""Task operations: each action is one function used by views, API and CLI alike.

Operations check the actor, change state through `workflows`, write the audit row and any notices,
and flush. They never commit: the request, job or CLI command commits once, so a transition, its
audit row and its notices land together or not at all. A stale `expected_version` (the version the
user saw) or a concurrent writer (the version column) gives a Conflict with nothing written.
"""
from __future__ import annotations

from datetime import date

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from tracker.auth.models import Role, User
from tracker.clock import today, utcnow
from tracker.errors import STALE_MESSAGE, Conflict, Forbidden, Invalid
from tracker.extensions import db
from tracker.notices.outbox import enqueue_each_language, users_of_unit, users_with_role
from tracker.tasks import evidence as evidence_store
from tracker.tasks.models import Evidence, ExtensionRequest, ProgressReport, Task, TaskEvent
from workflows import ExtensionRefused, TransitionContext, ladder, lifecycle, policy

SYSTEM_USERNAME = "system"
MAX_TEXT = 5000


def system_user() -> User:
    """The account the scheduler and imports act as; it cannot sign in (no password)."""
    user = db.session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
    if user is None:
        user = User(username=SYSTEM_USERNAME, display_name="系统", role=Role.system, password_hash="", created_at=utcnow())  # i18n: data
        db.session.add(user)
        db.session.flush()
    return user


def _check_version(task: Task, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != task.version:
        raise Conflict(STALE_MESSAGE)


def flush_or_conflict() -> None:
    """Flush; a concurrent writer that got there first (version column) becomes a Conflict."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(STALE_MESSAGE) from None


_OWNER_ONLY = {
    "progress": lambda unit: _("只有%(unit)s的经办人可以报送进展。", unit=unit),
    "evidence": lambda unit: _("只有%(unit)s的经办人可以上传佐证材料。", unit=unit),
    "extension": lambda unit: _("只有%(unit)s的经办人可以申请延期。", unit=unit),
}


def _require_owner(task: Task, actor: User, action: str) -> None:
    """`action`: progress, evidence or extension."""
    if not (actor.has_role("unit") and actor.unit_id == task.unit_id):
        raise Forbidden(_OWNER_ONLY[action](task.unit.name))


def _audit(task: Task, actor: User, event: str, *, from_status=None, to_status=None, from_ladder=None,
           to_ladder=None, comment: str = "", data: dict | None = None) -> TaskEvent:
    row = TaskEvent(task_id=task.id, actor_id=actor.id, event=event, from_status=from_status, to_status=to_status,
                    from_ladder=from_ladder, to_ladder=to_ladder, comment=comment or "", data=data or {},
                    created_at=utcnow())
    db.session.add(row)
    task.updated_at = row.created_at
    return row


def counts(task: Task) -> tuple[int, int]:
    progress = db.session.scalar(select(func.count()).select_from(ProgressReport).where(ProgressReport.task_id == task.id))
    evidence = db.session.scalar(select(func.count()).select_from(Evidence).where(Evidence.task_id == task.id))
    return progress or 0, evidence or 0


def indicators_gate(task: Task) -> bool | None:
    """Whether the task's linked indicators pass for its county (None: nothing to check).

    Filled in by the indicator module when it is installed (tracker.indicators.links)."""
    from tracker.indicators import gate

    return gate.indicators_ok(task)


def context(task: Task, actor: User, comment: str = "") -> TransitionContext:
    progress, evidence = counts(task)
    return TransitionContext(role=actor.role.value, actor_unit_id=actor.unit_id, owner_unit_id=task.unit_id,
                             progress_count=progress, evidence_count=evidence,
                             indicators_ok=indicators_gate(task), comment=comment or "")


def task_link(task: Task) -> str:
    try:
        return url_for("tasks.detail", task_id=task.id, _external=True)
    except RuntimeError:
        return f"/tasks/{task.id}"


#: who hears about each lifecycle event (kind, recipients)
#: lifecycle events the owner unit's users hear about (submit goes to the supervisors)
UNIT_NOTIFIED_EVENTS = ("verify", "return", "reopen", "suspend", "cancel", "restore")


def lifecycle_notice(task: Task, event: str, actor: User, comment: str) -> dict:
    """The notice of a lifecycle event as keyword arguments of `enqueue` (task.version is the new version)."""
    label = str(lifecycle.EVENT_LABELS.get(event, event))
    title = f"{task.measure.label} · {task.unit.name}"
    body = _("%(actor)s对任务“%(title)s”执行了“%(action)s”。", actor=actor.display_name, title=title, action=label)
    if comment:
        body += "\n" + _("意见：%(comment)s", comment=comment)
    return dict(kind=event, key=f"{event}:task={task.id}:v={task.version}",
                subject=_("【%(label)s】%(title)s", label=label, title=title),
                body=body, link=task_link(task), task_id=task.id)


def _notify_lifecycle(task: Task, event: str, actor: User, comment: str) -> None:
    if event == "submit":
        recipients = users_with_role("supervisor")
    elif event in UNIT_NOTIFIED_EVENTS:
        recipients = users_of_unit(task.unit_id)
    else:
        return
    enqueue_each_language(recipients, lambda: lifecycle_notice(task, event, actor, comment))


def fire(task: Task, event: str, actor: User, *, comment: str = "", expected_version: int | None = None) -> dict:
    """Fire a lifecycle event as `actor`; returns the new states. Raises TransitionRefused or Conflict."""
    _check_version(task, expected_version)
    comment = (comment or "").strip()[:MAX_TEXT]
    before_status, before_ladder = task.status, task.ladder
    lifecycle.fire(task, event, context(task, actor, comment))
    now = utcnow()
    if task.status == "completed":
        task.completed_at = now
        if task.ladder != "normal":
            ladder.fire(task, "reset", TransitionContext("system"))
    elif before_status == "completed":
        task.completed_at = None
    _audit(task, actor, event, from_status=before_status, to_status=task.status, from_ladder=before_ladder,
           to_ladder=task.ladder, comment=comment)
    flush_or_conflict()  # the version check happens here, before anything else touches the session
    _notify_lifecycle(task, event, actor, comment)
    if task.status == "completed":
        from tracker.supervision.operations import on_task_completed

        on_task_completed(task)  # the last rectification item done closes its interview
    db.session.flush()
    return {"task": task.id, "event": event, "from": before_status, "to": task.status, "ladder": task.ladder,
            "version": task.version}


def fire_ladder(task: Task, event: str, actor: User, *, comment: str = "", expected_version: int | None = None) -> dict:
    """A manual move on the supervision ladder (escalate / deescalate …) with a reason."""
    _check_version(task, expected_version)
    comment = (comment or "").strip()[:MAX_TEXT]
    before = task.ladder
    ladder.fire(task, event, context(task, actor, comment))
    _audit(task, actor, event, from_ladder=before, to_ladder=task.ladder, from_status=task.status,
           to_status=task.status, comment=comment)
    flush_or_conflict()
    if event in ("escalate", "call_interview", "hold_accountable"):
        enqueue_each_language(
            users_of_unit(task.unit_id) + users_with_role("leadership"),
            lambda: dict(subject=_("【%(label)s】%(title)s", label=str(ladder.LADDER_EVENT_LABELS[event]),
                                   title=f"{task.measure.label} · {task.unit.name}"),
                         body=_("%(actor)s：%(comment)s", actor=actor.display_name, comment=comment)),
            kind=event, key=f"{event}:task={task.id}:v={task.version}", link=task_link(task), task_id=task.id)
    flush_or_conflict()
    return {"task": task.id, "event": event, "from": before, "to": task.ladder, "status": task.status, "version": task.version}


def report_progress(task: Task, actor: User, percent, text: str, *, expected_version: int | None = None) -> ProgressReport:
    _check_version(task, expected_version)
    _require_owner(task, actor, "progress")
    if task.status not in ("in_progress", "returned"):
        state = str(lifecycle.STATE_LABELS[task.status])
        raise Conflict(_("任务当前状态为“%(state)s”，请先签收再报送进展。", state=state) if task.status == "assigned"
                       else _("任务当前状态为“%(state)s”，不能报送进展。", state=state))
    try:
        percent = int(percent)
    except (TypeError, ValueError):
        raise Invalid(_("完成进度应为 0–100 的整数。")) from None
    if not 0 <= percent <= 100:
        raise Invalid(_("完成进度应为 0–100 的整数。"))
    text = (text or "").strip()
    if not text:
        raise Invalid(_("请填写进展情况。"))
    if len(text) > MAX_TEXT:
        raise Invalid(_("进展情况不能超过 %(num)d 字。", num=MAX_TEXT))
    report = ProgressReport(task_id=task.id, author_id=actor.id, percent=percent, text=text, created_at=utcnow())
    db.session.add(report)
    task.progress_percent, task.last_progress_at = percent, report.created_at
    _audit(task, actor, "progress", comment=text, data={"percent": percent})
    flush_or_conflict()
    return report


def add_evidence(task: Task, actor: User, stream, filename: str, note: str = "", *,
                 expected_version: int | None = None) -> Evidence:
    """Store an uploaded file (once per content) and attach it; the same file twice attaches once."""
    _check_version(task, expected_version)
    _require_owner(task, actor, "evidence")
    if task.status not in ("in_progress", "returned"):
        state = str(lifecycle.STATE_LABELS[task.status])
        raise Conflict(_("任务当前状态为“%(state)s”，不能上传佐证材料（请先签收）。", state=state) if task.status == "assigned"
                       else _("任务当前状态为“%(state)s”，不能上传佐证材料。", state=state))
    received = evidence_store.store_upload(stream, filename)
    existing = db.session.scalar(select(Evidence).where(Evidence.task_id == task.id, Evidence.sha256 == received.sha256))
    if existing is not None:
        return existing
    task.updated_at = utcnow()
    flush_or_conflict()
    item = Evidence(task_id=task.id, uploader_id=actor.id, filename=received.filename, sha256=received.sha256,
                    kind="file", note=(note or "").strip()[:500], created_at=utcnow())
    db.session.add(item)
    _audit(task, actor, "evidence", comment=received.filename, data={"sha256": received.sha256, "size": received.size})
    flush_or_conflict()
    return item


def request_extension(task: Task, actor: User, new_deadline: date, reason: str, *,
                      expected_version: int | None = None) -> ExtensionRequest:
    _check_version(task, expected_version)
    _require_owner(task, actor, "extension")
    if task.status in lifecycle.TERMINAL_STATES:
        raise Conflict(_("任务已办结或撤销，不能申请延期。"))
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("请填写延期理由。"))
    pending = db.session.scalar(select(ExtensionRequest).where(ExtensionRequest.task_id == task.id,
                                                               ExtensionRequest.status == "pending"))
    if pending is not None:
        raise Conflict(_("已有一条待审批的延期申请，请等待审批结果。"))
    try:
        needs_leadership = policy.check_extension_request(task.deadline, today(), new_deadline, current_policy())
    except ExtensionRefused as exc:
        raise Conflict(str(exc)) from None
    task.updated_at = utcnow()  # bump the version first: the request is part of the task's story
    flush_or_conflict()
    req = ExtensionRequest(task_id=task.id, requester_id=actor.id, old_deadline=task.deadline, new_deadline=new_deadline,
                           reason=reason[:MAX_TEXT], needs_leadership=needs_leadership, created_at=utcnow())
    db.session.add(req)
    _audit(task, actor, "extension_request", comment=reason,
           data={"old_deadline": task.deadline.isoformat(), "new_deadline": new_deadline.isoformat(),
                 "needs_leadership": needs_leadership})
    approvers = users_with_role("leadership" if needs_leadership else "supervisor")
    enqueue_each_language(
        approvers,
        lambda: dict(subject=_("【延期申请】%(title)s", title=f"{task.measure.label} · {task.unit.name}"),
                     body=_("申请将完成时限由%(old)s延至%(new)s。理由：%(reason)s", old=task.deadline.isoformat(),
                            new=new_deadline.isoformat(), reason=reason)),
        kind="extension_request", key=f"extension_request:task={task.id}:v={task.version}",
        link=task_link(task), task_id=task.id)
    db.session.flush()
    return req


def decide_extension(req: ExtensionRequest, actor: User, approve: bool, comment: str = "") -> ExtensionRequest:
    task = req.task
    if req.status != "pending":
        raise Conflict(_("该延期申请已经处理过了。"))
    allowed = ("leadership",) if req.needs_leadership else ("supervisor", "leadership")
    if not actor.has_role(*allowed):
        raise Forbidden(_("延期超过规定天数，须由领导小组审批。") if req.needs_leadership
                        else _("只有督学或领导小组可以审批延期申请。"))
    comment = (comment or "").strip()
    if not approve and not comment:
        raise Invalid(_("不同意延期时请填写理由。"))
    req.status, req.decided_by_id, req.decided_at, req.decision_comment = (
        "approved" if approve else "rejected", actor.id, utcnow(), comment[:MAX_TEXT])
    before_ladder, old = task.ladder, task.deadline
    task.updated_at = utcnow()
    flush_or_conflict()
    if approve:
        task.deadline, task.deadline_source = req.new_deadline, "manual"
        target = policy.expected_ladder(task.deadline, today(), task.status == "completed", current_policy())
        if ladder.level(target) < ladder.level(task.ladder) and task.ladder in ("due_soon", "overdue"):
            ladder.fire(task, "reset", TransitionContext("system"))
    _audit(task, actor, "extension_" + req.status, comment=comment, from_ladder=before_ladder, to_ladder=task.ladder,
           data={"old_deadline": old.isoformat(), "new_deadline": req.new_deadline.isoformat(), "decision": req.status})
    enqueue_each_language(
        users_of_unit(task.unit_id),
        lambda: dict(subject=(_("【延期申请已同意】%(title)s", title=task.measure.label) if approve
                              else _("【延期申请未同意】%(title)s", title=task.measure.label)),
                     body=comment or _("完成时限调整为%(date)s", date=req.new_deadline.isoformat())),
        kind="extension_decision", key=f"extension_decision:req={req.id}", link=task_link(task), task_id=task.id)
    flush_or_conflict()
    return req


def set_deadline(task: Task, actor: User, new_deadline: date, reason: str = "", *, expected_version: int | None = None) -> None:
    """Admin edit of a deadline; re-imports keep it (source 'manual')."""
    _check_version(task, expected_version)
    if not actor.has_role("admin"):
        raise Forbidden(_("只有系统管理员可以直接修改完成时限。"))
    old = task.deadline
    task.deadline, task.deadline_source = new_deadline, "manual"
    _audit(task, actor, "deadline", comment=reason, data={"old_deadline": old.isoformat(), "new_deadline": new_deadline.isoformat()})
    flush_or_conflict()


def current_policy() -> policy.EscalationPolicy:
    from tracker.tasks.policy_store import load_policy

    return load_policy()
