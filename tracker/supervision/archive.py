"""The accountability file (督办档案) of one county or department: every supervision event, once, in time order.

Sources (one query each): reminders sent to the unit's users (one per reminder key, whatever the number of
recipients and channels), ladder moves on the unit's tasks, leadership instructions on them (one per
instruction), the unit's interviews (opened, held, closed, cancelled), rectification items it owns or
that came from its interviews, and accountability records. Ladder moves made *by* an interview being
held or an accountability record are part of that event and are not listed again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from tracker.auth.models import User
from tracker.clock import LOCAL_TZ
from tracker.dashboard import ledgers
from tracker.extensions import db
from tracker.notices.models import Notification
from tracker.supervision.models import (
    INTERVIEW_EVENT_LABELS,
    AccountabilityRecord,
    Instruction,
    InstructionTask,
    Interview,
    InterviewEvent,
    RectificationItem,
)
from tracker.supervision.reasons import reason_text
from tracker.tasks.models import Task, TaskEvent
from tracker.units.models import Unit
from workflows import LADDER_EVENT_LABELS, LADDER_LABELS, STATE_LABELS

KIND_LABELS = {"reminder": _l("提醒"), "escalation": _l("督办"), "instruction": _l("批示"), "interview": _l("约谈"),
               "rectification": _l("整改"), "accountability": _l("问责")}
#: tie-break for events at the same instant: the order things happen in
KIND_ORDER = {k: i for i, k in enumerate(KIND_LABELS)}
ARCHIVED_INTERVIEW_EVENTS = ("open", "hold", "close", "cancel")


@dataclass
class FileEvent:
    at: datetime
    kind: str
    ref: str
    title: str
    detail: str = ""
    actor: str = ""
    task_id: int | None = None
    interview_id: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[self.kind])

    @property
    def local_at(self) -> datetime:
        return self.at.replace(tzinfo=UTC).astimezone(LOCAL_TZ)

    def as_dict(self) -> dict:
        return {"at": self.local_at.isoformat(timespec="minutes"), "kind": self.kind, "kind_label": self.kind_label,
                "ref": self.ref, "title": self.title, "detail": self.detail, "actor": self.actor, "task_id": self.task_id,
                "interview_id": self.interview_id}


def _name(user) -> str:
    return user.display_name if user else _("系统")


def unit_file(unit: Unit) -> list[FileEvent]:
    events: list[FileEvent] = []
    events += _reminders(unit)
    events += _escalations(unit)
    events += _instructions(unit)
    events += _interviews(unit)
    events += _items(unit)
    events += _records(unit)
    events.sort(key=lambda e: (e.at, KIND_ORDER[e.kind], e.ref))
    return events


def _reminders(unit: Unit) -> list[FileEvent]:
    users = select(User.id).where(User.unit_id == unit.id)
    rows = db.session.execute(
        select(Notification.key, func.min(Notification.created_at), func.min(Notification.subject), func.min(Notification.task_id))
        .where(Notification.kind == "reminder", Notification.user_id.in_(users)).group_by(Notification.key))
    return [FileEvent(at, "reminder", f"reminder:{key}", subject, task_id=task_id) for key, at, subject, task_id in rows]


def _escalations(unit: Unit) -> list[FileEvent]:
    rows = db.session.scalars(
        select(TaskEvent).join(Task, Task.id == TaskEvent.task_id)
        .where(Task.unit_id == unit.id, TaskEvent.event.in_(tuple(LADDER_EVENT_LABELS)))
        .options(selectinload(TaskEvent.actor)).order_by(TaskEvent.id))
    out, tasks = [], {}
    for ev in rows:
        data = ev.data or {}
        if "interview_id" in data or "accountability_id" in data:
            continue  # part of the interview being held / the accountability record
        tasks.setdefault(ev.task_id, None)
        out.append(ev)
    titles = _task_titles(list(tasks))
    return [FileEvent(ev.created_at, "escalation", f"task_event:{ev.id}",
                      _("%(event)s：%(task)s", event=LADDER_EVENT_LABELS[ev.event], task=titles.get(ev.task_id, ev.task_id)),
                      _("督办等级：%(before)s → %(after)s", before=LADDER_LABELS.get(ev.from_ladder, ev.from_ladder or ""),
                        after=LADDER_LABELS.get(ev.to_ladder, ev.to_ladder or "")) + (_("；") + ev.comment if ev.comment else ""),
                      _name(ev.actor), task_id=ev.task_id) for ev in out]


def _task_titles(ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {t.id: t.display_title for t in db.session.scalars(
        select(Task).where(Task.id.in_(ids)).options(selectinload(Task.measure)))}


def _instructions(unit: Unit) -> list[FileEvent]:
    rows = db.session.execute(
        select(Instruction, InstructionTask.task_id).join(InstructionTask, InstructionTask.instruction_id == Instruction.id)
        .join(Task, Task.id == InstructionTask.task_id).where(Task.unit_id == unit.id)
        .options(selectinload(Instruction.author)).order_by(Instruction.id, InstructionTask.id)).all()
    by_instruction: dict[int, tuple[Instruction, list[int]]] = {}
    for instruction, task_id in rows:
        by_instruction.setdefault(instruction.id, (instruction, []))[1].append(task_id)
    titles = _task_titles([t for _, ids in by_instruction.values() for t in ids])
    out = []
    for instruction, ids in by_instruction.values():
        detail = _("涉及任务：%(tasks)s", tasks=_("；").join(titles.get(i, str(i)) for i in ids))
        if instruction.new_deadline:
            detail += _("；完成时限调整为%(date)s", date=instruction.new_deadline.isoformat())
        out.append(FileEvent(instruction.created_at, "instruction", f"instruction:{instruction.id}", instruction.text, detail,
                             _name(instruction.author), task_id=ids[0] if len(ids) == 1 else None))
    return out


def _interviews(unit: Unit) -> list[FileEvent]:
    rows = db.session.execute(
        select(InterviewEvent, Interview).join(Interview, Interview.id == InterviewEvent.interview_id)
        .where(Interview.unit_id == unit.id, InterviewEvent.event.in_(ARCHIVED_INTERVIEW_EVENTS))
        .options(selectinload(InterviewEvent.actor)).order_by(InterviewEvent.id)).all()
    out = []
    for ev, iv in rows:
        local = iv.scheduled_at.replace(tzinfo=UTC).astimezone(LOCAL_TZ)
        title = _("%(event)s（约谈 #%(id)s）", event=INTERVIEW_EVENT_LABELS[ev.event], id=iv.id)
        if ev.event == "open":
            detail = (_("时间：%(time)s；地点：%(place)s", time=f"{local:%Y-%m-%d %H:%M}", place=iv.place)
                      + (_("；被约谈人：%(people)s", people=iv.interviewees) if iv.interviewees else "")
                      + _("；事由：%(reasons)s", reasons=_("；").join(reason_text(r) for r in iv.reasons or [])))
        elif ev.event == "hold":
            detail = _("约谈记录：%(minutes)s；约谈结果：%(outcome)s", minutes=iv.minutes, outcome=iv.outcome)
        else:
            detail = ev.comment
        out.append(FileEvent(ev.created_at, "interview", f"interview_event:{ev.id}", title, detail, _name(ev.actor),
                             interview_id=iv.id))
    return out


def _items(unit: Unit) -> list[FileEvent]:
    rows = db.session.scalars(
        select(RectificationItem).join(Interview, Interview.id == RectificationItem.interview_id)
        .where(or_(RectificationItem.unit_id == unit.id, Interview.unit_id == unit.id))
        .options(selectinload(RectificationItem.unit), selectinload(RectificationItem.task),
                 selectinload(RectificationItem.created_by)).order_by(RectificationItem.id))
    out = []
    for item in rows:
        status = STATE_LABELS.get(item.task.status, item.task.status) if item.task else "—"
        out.append(FileEvent(item.created_at, "rectification", f"item:{item.id}",
                             _("整改事项 #%(id)s：%(text)s", id=item.id, text=item.text),
                             _("责任单位：%(unit)s；整改期限：%(deadline)s；当前状态：%(status)s", unit=item.unit.name,
                               deadline=item.deadline.isoformat(), status=status),
                             _name(item.created_by), task_id=item.task_id, interview_id=item.interview_id))
    return out


def _records(unit: Unit) -> list[FileEvent]:
    rows = db.session.scalars(select(AccountabilityRecord).where(AccountabilityRecord.unit_id == unit.id)
                              .options(selectinload(AccountabilityRecord.recorded_by), selectinload(AccountabilityRecord.item))
                              .order_by(AccountabilityRecord.id))
    out = []
    for r in rows:
        detail = _("决定日期：%(date)s", date=r.decided_on.isoformat()) + (
            _("；整改事项 #%(id)s：%(text)s", id=r.item_id, text=r.item.text) if r.item else "")
        if r.note:
            detail += _("；备注：%(note)s", note=r.note)
        if r.filename:
            detail += _("；附件：%(file)s", file=r.filename)
        out.append(FileEvent(r.created_at, "accountability", f"record:{r.id}",
                             _("%(type)s（%(doc)s）", type=r.type_label, doc=r.doc_number), detail,
                             _name(r.recorded_by), task_id=r.item.task_id if r.item else None, interview_id=r.interview_id,
                             extra={"record_id": r.id} if r.sha256 else {}))
    return out


HEADER = [_l("时间"), _l("类别"), _l("事项"), _l("详情"), _l("相关任务"), _l("经办人")]
WIDTHS = [18, 8, 44, 70, 10, 12]


def workbook(unit: Unit, events: list[FileEvent]) -> bytes:
    rows = [[e.local_at.strftime("%Y-%m-%d %H:%M"), e.kind_label, e.title, e.detail, e.task_id or "", e.actor] for e in events]
    return ledgers.workbook(_("督办档案-%(unit)s", unit=unit.name), [str(h) for h in HEADER], rows, WIDTHS)
