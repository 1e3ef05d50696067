"""Tasks: list with filters, detail, lifecycle/ladder events, progress reports, evidence, extensions.

Every endpoint loads the task through permissions.task_or_404 (another unit's task is 404, its
existence not revealed) and acts through tracker.tasks.operations, which checks role, ownership,
state, guards and the version the caller saw. State-changing calls carry that `version`; a stale one
is 409 with nothing written.
"""
from __future__ import annotations

from flask import abort, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker.api import bp, serialize
from tracker.api.errors import ApiError
from tracker.api.openapi import (
    ID_MAX,
    array,
    binary_body,
    boolean,
    date_,
    integer,
    obj,
    operation,
    page_of,
    page_params,
    path_id,
    query,
    string,
)
from tracker.api.plans import paginate
from tracker.clock import today
from tracker.extensions import db
from tracker.permissions import scope_tasks, task_or_404
from tracker.tasks import evidence as evidence_store
from tracker.tasks import operations as ops
from tracker.tasks.models import Evidence, ExtensionRequest, ProgressReport, Task, TaskEvent
from tracker.tasks.operations import MAX_TEXT
from tracker.tasks.queries import task_list_stmt
from workflows import ladder, lifecycle

UNIT_CODE = string(32, pattern=r"^[0-9A-Za-z_.-]{1,32}$")
VERSION = integer(1, description=_l("调用方看到的任务版本号（乐观锁）；过期则 409"))
TASK_VERSION = {"task_version": integer(1)}


def _task(call, task_id: int) -> Task:
    return task_or_404(task_id, call.user)


def _commit():
    db.session.commit()


# ── list and detail ─────────────────────────────────────────────────────────────────────────
@operation(bp, "GET", "/tasks", summary=_l("任务列表（按权限范围），可筛选、分页"), tag="tasks",
           params=[query("status", string(enum=serialize.STATUSES), _l("办理状态")),
                   query("ladder", string(enum=serialize.LADDERS), _l("督办等级")),
                   query("unit", UNIT_CODE, _l("责任单位代码，如 532301")),
                   query("unit_kind", string(enum=["department", "county"]), _l("单位类别")),
                   query("plan_id", integer(1, ID_MAX), _l("方案 id")),
                   query("measure", integer(1, ID_MAX), _l("措施 id")),
                   query("overdue", boolean(), _l("只看逾期未办结")),
                   query("q", string(100), _l("按措施标题、内容、单位名称搜索")),
                   *page_params()],
           response=page_of(serialize.TASK))
def tasks(call):
    q = call.query
    stmt = task_list_stmt(user=call.user, unit_code=q.get("unit") or None, status=q.get("status") or None,
                          plan_id=q.get("plan_id"), measure_id=q.get("measure"), ladder=q.get("ladder") or None,
                          unit_kind=q.get("unit_kind") or None, overdue_on=today() if q.get("overdue") else None,
                          q=(q.get("q") or "").strip() or None)
    return paginate(stmt, call, serialize.task)


def allowed_events(task: Task, user) -> list[dict]:
    ctx = ops.context(task, user)
    role = user.role.value
    out = [{"event": e, "label": lifecycle.EVENT_LABELS[e], "machine": "lifecycle",
            "requires_reason": lifecycle.requires_reason(e, role)} for e in lifecycle.allowed_events(task.status, ctx)]
    out += [{"event": e, "label": ladder.LADDER_EVENT_LABELS[e], "machine": "ladder",
             "requires_reason": ladder.requires_reason(e, role)} for e in ladder.allowed_events(task.ladder, ctx)]
    return out


def _progress(task: Task) -> list[ProgressReport]:
    return list(db.session.scalars(select(ProgressReport).where(ProgressReport.task_id == task.id)
                                   .options(selectinload(ProgressReport.author)).order_by(ProgressReport.id.desc())))


def _evidence(task: Task) -> list[Evidence]:
    return list(db.session.scalars(select(Evidence).where(Evidence.task_id == task.id)
                                   .options(selectinload(Evidence.stored), selectinload(Evidence.uploader))
                                   .order_by(Evidence.id)))


def _history(task: Task) -> list[TaskEvent]:
    return list(db.session.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id)
                                   .options(selectinload(TaskEvent.actor)).order_by(TaskEvent.created_at, TaskEvent.id)))


def _extensions(task: Task) -> list[ExtensionRequest]:
    return list(db.session.scalars(select(ExtensionRequest).where(ExtensionRequest.task_id == task.id)
                                   .order_by(ExtensionRequest.id.desc())))


@operation(bp, "GET", "/tasks/{task_id}", summary=_l("任务详情：调用者可执行的操作、进展、佐证、办理记录、延期申请"),
           tag="tasks", params=[path_id("task_id")], response=serialize.TASK_DETAIL)
def task_detail(call, task_id: int):
    task = _task(call, task_id)
    out = serialize.task(task)
    out.update(title=task.title, measure_id=task.measure_id, unit_id=task.unit_id, start_date=serialize.iso(task.start_date),
               deadline_source=task.deadline_source, completed_at=serialize.iso(task.completed_at),
               last_progress_at=serialize.iso(task.last_progress_at), indicators=list(task.measure.indicators or []),
               allowed_events=allowed_events(task, call.user),
               progress_reports=[serialize.progress(r) for r in _progress(task)],
               evidence=[serialize.evidence(e) for e in _evidence(task)],
               history=[serialize.history(e) for e in _history(task)],
               extensions=[serialize.extension(r) for r in _extensions(task)])
    return out


@operation(bp, "GET", "/tasks/{task_id}/history", summary=_l("任务办理记录（审计轨迹）"), tag="tasks",
           params=[path_id("task_id")], response=obj(["items"], items=array(serialize.HISTORY)))
def task_history(call, task_id: int):
    return {"items": [serialize.history(e) for e in _history(_task(call, task_id))]}


# ── events ──────────────────────────────────────────────────────────────────────────────────
EVENT_BODY = obj(["event", "version"], closed=True,
                 event=string(32, enum=serialize.EVENTS, description=_l("签收 accept、报送 submit、办结 verify、退回 return …")),
                 comment=string(MAX_TEXT, description=_l("意见/理由（退回、撤销、督办等须填写）")),
                 version=VERSION)


@operation(bp, "POST", "/tasks/{task_id}/events", summary=_l("执行办理操作或督办操作"), tag="tasks",
           params=[path_id("task_id")], body=EVENT_BODY, response=serialize.TRANSITION, errors=(409,),
           description=_l("409：版本过期或当前状态不允许；403：角色或单位无权；422：缺少理由、进展/佐证或指标未达标。"))
def fire_event(call, task_id: int):
    task = _task(call, task_id)
    body = call.body
    event, comment, version = body["event"], body.get("comment") or "", body["version"]
    if event in lifecycle.EVENT_LABELS:
        result = ops.fire(task, event, call.user, comment=comment, expected_version=version)
        result.update(machine="lifecycle", status=result["to"])
    else:
        result = ops.fire_ladder(task, event, call.user, comment=comment, expected_version=version)
        result.update(machine="ladder", ladder=result["to"])
    _commit()
    result["version"] = task.version
    return result


# ── progress ────────────────────────────────────────────────────────────────────────────────
PROGRESS_BODY = obj(["percent", "text", "version"], closed=True, percent=integer(0, 100, description=_l("完成进度 %")),
                    text=string(MAX_TEXT, min_length=1, description=_l("进展情况")), version=VERSION)
PROGRESS_CREATED = {"allOf": [serialize.PROGRESS, obj(["task_version"], **TASK_VERSION)]}


@operation(bp, "GET", "/tasks/{task_id}/progress", summary=_l("进展报送列表（新的在前）"), tag="tasks",
           params=[path_id("task_id")], response=obj(["items"], items=array(serialize.PROGRESS)))
def progress_list(call, task_id: int):
    return {"items": [serialize.progress(r) for r in _progress(_task(call, task_id))]}


@operation(bp, "POST", "/tasks/{task_id}/progress", summary=_l("报送进展（本单位经办人）"), tag="tasks",
           params=[path_id("task_id")], body=PROGRESS_BODY, status=201, response=PROGRESS_CREATED, errors=(409,))
def progress_create(call, task_id: int):
    task = _task(call, task_id)
    report = ops.report_progress(task, call.user, call.body["percent"], call.body["text"],
                                 expected_version=call.body["version"])
    _commit()
    return {**serialize.progress(report), "task_version": task.version}, 201


# ── evidence ────────────────────────────────────────────────────────────────────────────────
EVIDENCE_BODY = obj(["file", "version"], file=binary_body(_l("佐证材料文件：PDF、Office/WPS、OFD 或图片；按内容判断类型")),
                    note=string(500, description=_l("说明")), version=VERSION)
EVIDENCE_CREATED = {"allOf": [serialize.EVIDENCE, obj(["task_version"], **TASK_VERSION)]}


@operation(bp, "GET", "/tasks/{task_id}/evidence", summary=_l("佐证材料列表"), tag="tasks",
           params=[path_id("task_id")], response=obj(["items"], items=array(serialize.EVIDENCE)))
def evidence_list(call, task_id: int):
    return {"items": [serialize.evidence(e) for e in _evidence(_task(call, task_id))]}


@operation(bp, "POST", "/tasks/{task_id}/evidence", summary=_l("上传佐证材料（multipart，本单位经办人）"), tag="tasks",
           params=[path_id("task_id")], multipart=EVIDENCE_BODY, status=201, response=EVIDENCE_CREATED,
           errors=(409,), max_bytes_key="EVIDENCE_MAX_BYTES",
           description=_l("大小上限见 EVIDENCE_MAX_BYTES（默认 50 MB），超过即 413，不读完请求体；类型按文件内容判断。"))
def evidence_upload(call, task_id: int):
    task = _task(call, task_id)
    upload = call.body["file"]
    item = ops.add_evidence(task, call.user, upload.stream, upload.filename or "", call.body.get("note") or "",
                            expected_version=call.body["version"])
    _commit()
    return {**serialize.evidence(item), "task_version": task.version}, 201


@operation(bp, "GET", "/evidence/{evidence_id}/download", summary=_l("下载佐证材料文件（附件）"), tag="tasks",
           params=[path_id("evidence_id")], binary=True, errors=(410,))
def evidence_download(call, evidence_id: int):
    item = db.session.get(Evidence, evidence_id)
    if item is None:
        raise ApiError(404, _("找不到该佐证材料。"))
    task_or_404(item.task_id, call.user)
    if item.sha256 is None:
        raise ApiError(404, _("该佐证是系统生成的评估结果，没有文件可下载。"))
    path = evidence_store.stored_path(item.sha256)
    if not path.exists():
        abort(410)
    response = send_file(path, mimetype="application/octet-stream", as_attachment=True, download_name=item.filename,
                         conditional=True, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Detected-Content-Type"] = item.stored.mimetype
    return response


# ── extensions ──────────────────────────────────────────────────────────────────────────────
EXTENSION_BODY = obj(["new_deadline", "reason", "version"], closed=True, new_deadline=date_(),
                     reason=string(MAX_TEXT, min_length=1, description=_l("延期理由")), version=VERSION)
DECISION_BODY = obj(["decision"], closed=True, decision=string(enum=["approve", "reject"]),
                    comment=string(MAX_TEXT, description=_l("审批意见；驳回时必填")))
EXTENSION_CREATED = {"allOf": [serialize.EXTENSION, obj(["task_version"], **TASK_VERSION)]}


@operation(bp, "GET", "/tasks/{task_id}/extensions", summary=_l("任务的延期申请"), tag="tasks",
           params=[path_id("task_id")], response=obj(["items"], items=array(serialize.EXTENSION)))
def extension_list(call, task_id: int):
    return {"items": [serialize.extension(r) for r in _extensions(_task(call, task_id))]}


@operation(bp, "POST", "/tasks/{task_id}/extensions", summary=_l("申请延期（本单位经办人）"), tag="tasks",
           params=[path_id("task_id")], body=EXTENSION_BODY, status=201, response=EXTENSION_CREATED, errors=(409,))
def extension_create(call, task_id: int):
    task = _task(call, task_id)
    req = ops.request_extension(task, call.user, call.body["new_deadline"], call.body["reason"],
                                expected_version=call.body["version"])
    _commit()
    return {**serialize.extension(req), "task_version": task.version}, 201


@operation(bp, "GET", "/extensions", summary=_l("延期申请（按权限范围），可按状态筛选"), tag="tasks",
           params=[query("status", string(enum=["pending", "approved", "rejected"]), _l("审批状态")), *page_params()],
           response=page_of(serialize.EXTENSION))
def extensions(call):
    stmt = scope_tasks(select(ExtensionRequest).join(Task, Task.id == ExtensionRequest.task_id), call.user)
    if call.query.get("status"):
        stmt = stmt.where(ExtensionRequest.status == call.query["status"])
    return paginate(stmt.order_by(ExtensionRequest.created_at, ExtensionRequest.id), call, serialize.extension)


@operation(bp, "POST", "/extensions/{request_id}/decision", summary=_l("审批延期申请（督学、领导小组）"), tag="tasks",
           params=[path_id("request_id")], body=DECISION_BODY, response=serialize.EXTENSION, errors=(409,))
def extension_decide(call, request_id: int):
    req = db.session.get(ExtensionRequest, request_id)
    if req is None:
        raise ApiError(404, _("找不到该延期申请。"))
    task_or_404(req.task_id, call.user)
    ops.decide_extension(req, call.user, call.body["decision"] == "approve", call.body.get("comment") or "")
    _commit()
    return serialize.extension(req)
