"""Accountability (问责): the decision recorded on a missed rectification item, with its document.

Recording it resolves the item's accountability flag and moves the item's task up the ladder to 问责
(through 督办/约谈 where the task has not got there yet, one tagged audit row per step; the last step
is `fire_ladder('hold_accountable')`, which tells the unit and the leadership group).
"""
from __future__ import annotations

from datetime import UTC, date

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tracker.clock import LOCAL_TZ, today, utcnow
from tracker.errors import Conflict, Invalid
from tracker.extensions import db
from tracker.i18n import DEFAULT
from tracker.indicators.models import CountyFlag
from tracker.notices.outbox import enqueue, users_of_unit, users_with_role
from tracker.supervision import flags as flag_store
from tracker.supervision.access import SUPERVISORS, require
from tracker.supervision.models import ACCOUNTABILITY_TYPE_LABELS, AccountabilityRecord, RectificationItem
from tracker.supervision.operations import clean_text, page_link
from tracker.tasks import evidence as evidence_store
from tracker.tasks.models import Task, TaskEvent
from tracker.tasks.operations import _audit, context, fire_ladder, flush_or_conflict
from workflows import ladder


def parse_type(value: str) -> str:
    value = (value or "").strip()
    if value in ACCOUNTABILITY_TYPE_LABELS:
        return value
    for code, label in ACCOUNTABILITY_TYPE_LABELS.items():
        if value == str(label):
            return code
    raise Invalid(_("问责方式应为：%(types)s。", types=_("、").join(str(v) for v in ACCOUNTABILITY_TYPE_LABELS.values())))


def missed(item: RectificationItem, day: date | None = None) -> bool:
    """The item's task missed its deadline: still open after it, or completed after it."""
    day = day or today()
    task = item.task
    if task is None or task.status == "cancelled":
        return False
    if task.status == "completed":
        done = task.completed_at.replace(tzinfo=UTC).astimezone(LOCAL_TZ).date() if task.completed_at else None
        return done is not None and done > task.deadline
    return task.deadline < day


def record_accountability(item: RectificationItem, actor, *, type: str, doc_number: str, decided_on: date, note: str = "",
                          stream=None, filename: str = "") -> AccountabilityRecord:
    """Record an accountability decision on a missed rectification item; resolves its flag and moves its task's
    ladder to 问责 (through 督办/约谈 first where it has not got there yet, one audit row per step)."""
    require(actor, SUPERVISORS, _l("只有督学可以记录问责。"))
    kind = parse_type(type)
    doc_number = clean_text(doc_number, _("问责文号"), limit=100)
    note = clean_text(note, _("备注"), required=False)
    if decided_on is None:
        raise Invalid(_("请填写问责决定日期。"))
    if decided_on > today():
        raise Invalid(_("问责决定日期不能晚于今天。"))
    if not missed(item):
        raise Conflict(_("该整改事项未逾期，不能记录问责。"))
    sha, name = None, None
    if stream is not None and filename:
        received = evidence_store.store_upload(stream, filename)
        sha, name = received.sha256, received.filename
    record = AccountabilityRecord(unit_id=item.unit_id, interview_id=item.interview_id, item_id=item.id, type=kind,
                                  doc_number=doc_number, decided_on=decided_on, note=note, sha256=sha, filename=name,
                                  recorded_by_id=actor.id, created_at=utcnow())
    db.session.add(record)
    db.session.flush()
    moved = _ladder_to_accountability(item.task, actor, record)
    _resolve_item_flag(item, actor)
    if not moved:
        with force_locale(DEFAULT):  # one text for several readers: the default language
            subject = _("【问责】%(unit)s：%(type)s", unit=item.unit.name, type=record.type_label)
            body = _("整改事项“%(item)s”逾期未完成，问责决定：%(type)s（%(doc)s，%(date)s）。", item=item.text,
                     type=record.type_label, doc=doc_number, date=decided_on.isoformat())
        enqueue(users_of_unit(item.unit_id) + users_with_role("leadership"), kind="accountability",
                key=f"accountability:record={record.id}", subject=subject, body=body,
                link=page_link("supervision.interview", f"/supervision/interviews/{item.interview_id}", interview_id=item.interview_id),
                data={"record_id": record.id})
    db.session.flush()
    return record


def _ladder_to_accountability(task: Task | None, actor, record: AccountabilityRecord) -> bool:
    if task is None or task.status in ("completed", "cancelled") or task.ladder == "accountability":
        return False
    with force_locale(DEFAULT):  # written on the task's history, read by everyone
        comment = _("问责：%(type)s（%(doc)s）", type=record.type_label, doc=record.doc_number)
    tag = {"accountability_id": record.id}
    while task.ladder != "interview":
        event = "call_interview" if task.ladder in ("overdue", "escalated") else "escalate"
        before = task.ladder
        ladder.fire(task, event, context(task, actor, comment))
        _audit(task, actor, event, from_ladder=before, to_ladder=task.ladder, from_status=task.status,
               to_status=task.status, comment=comment, data=tag)
    flush_or_conflict()
    fire_ladder(task, "hold_accountable", actor, comment=comment)
    last = db.session.scalar(select(TaskEvent).where(TaskEvent.task_id == task.id, TaskEvent.event == "hold_accountable")
                             .order_by(TaskEvent.id.desc()).limit(1))
    last.data = {**(last.data or {}), **tag}
    db.session.flush()
    return True


def _resolve_item_flag(item: RectificationItem, actor) -> None:
    for flag in db.session.scalars(select(CountyFlag).where(CountyFlag.unit_id == item.unit_id,
                                                            CountyFlag.kind == "accountability",
                                                            CountyFlag.resolved_at.is_(None))):
        items = (flag.detail or {}).get("items", [])
        if item.id not in {i["item_id"] for i in items}:
            continue
        recorded = set(db.session.scalars(select(AccountabilityRecord.item_id).where(
            AccountabilityRecord.item_id.in_([i["item_id"] for i in items]))))
        if {i["item_id"] for i in items} <= recorded:
            flag_store.resolve(flag, actor, resolution="record")



def record_row(r: AccountabilityRecord) -> dict:
    return {"id": r.id, "unit_code": r.unit.code, "unit_name": r.unit.name, "interview_id": r.interview_id,
            "item_id": r.item_id, "type": r.type, "type_label": r.type_label, "doc_number": r.doc_number,
            "decided_on": r.decided_on, "note": r.note, "filename": r.filename, "sha256": r.sha256}
