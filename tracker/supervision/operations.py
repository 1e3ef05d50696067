"""Interviews (约谈) and their rectification items (整改事项); accountability (问责) is in `accountability`,
the reasons an interview is opened for in `reasons`.

Like every service here: check the actor, change state, write the audit rows and notices, flush —
never commit. Interview state changes are audited in InterviewEvent; everything that touches a task
goes through the task's own audit trail (TaskEvent) and, for ladder moves, through `workflows.ladder`.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

from flask import url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.orm.exc import StaleDataError

from tracker.clock import LOCAL_TZ, today, utcnow
from tracker.errors import STALE_MESSAGE, Conflict, Invalid
from tracker.extensions import db
from tracker.i18n import DEFAULT, LANGUAGES
from tracker.indicators.models import CountyFlag
from tracker.notices.outbox import enqueue, users_of_unit, users_with_role
from tracker.plans.models import Measure
from tracker.supervision import flags as flag_store
from tracker.supervision.access import SUPERVISORS, require
from tracker.supervision.models import (
    WATCHED_STATES,
    Interview,
    InterviewEvent,
    InterviewStatus,
    RectificationItem,
)
from tracker.supervision.reasons import default_measure_id, reason_text, reasons_for
from tracker.tasks.models import Task
from tracker.tasks.operations import MAX_TEXT, _audit, context, flush_or_conflict, system_user, task_link
from tracker.units.models import Unit
from workflows import ladder

MAX_ITEM_TEXT = 300


# ── helpers ────────────────────────────────────────────────────────────────────────────────
def clean_text(value: str | None, label: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    """The trimmed text; ``label`` is the field's name as shown (translated) in the error messages."""
    value = (value or "").strip()
    if required and not value:
        raise Invalid(_("请填写%(label)s。", label=label))
    if len(value) > limit:
        raise Invalid(_("%(label)s不能超过 %(limit)s 字。", label=label, limit=limit))
    return value


def stored_language():
    """Text written once for several readers (notices to a group, audit comments, an interview's reasons)
    is in the default language, whoever's action writes it."""
    return force_locale(DEFAULT)


def _as_utc(instant: datetime) -> datetime:
    """A form's or CLI's instant (China time when naive) → naive UTC, as stored."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=LOCAL_TZ)
    return instant.astimezone(UTC).replace(tzinfo=None)


def page_link(endpoint: str, fallback: str, **values) -> str:
    try:
        return url_for(endpoint, _external=True, **values)
    except RuntimeError:
        return fallback


def interview_link(interview: Interview) -> str:
    return page_link("supervision.interview", f"/supervision/interviews/{interview.id}", interview_id=interview.id)


def _event(interview: Interview, actor, event: str, *, from_status=None, to_status=None, comment: str = "",
           data: dict | None = None) -> InterviewEvent:
    row = InterviewEvent(interview_id=interview.id, actor_id=actor.id if actor else None, event=event,
                         from_status=from_status, to_status=to_status, comment=comment or "", data=data or {},
                         created_at=utcnow())
    db.session.add(row)
    return row


def _flush_interview() -> None:
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(STALE_MESSAGE) from None


def _check_version(interview: Interview, expected_version) -> None:
    if expected_version not in (None, "") and int(expected_version) != interview.version:
        raise Conflict(_("此约谈在您打开后已被他人修改，请刷新页面查看最新情况后再操作。"))


def _status(interview: Interview) -> str:
    return interview.status_value


# ── interviews ─────────────────────────────────────────────────────────────────────────────
def open_interview(actor, unit: Unit, *, scheduled_at: datetime, place: str, attendees: str = "", interviewees: str = "",
                   flag: CountyFlag | None = None, selected: list[str] | None = None, extra: str = "") -> Interview:
    """Open (schedule) an interview of a unit, from a flag or directly; the unit's users are told."""
    require(actor, SUPERVISORS, _l("只有督学可以发起约谈。"))
    place = clean_text(place, _("约谈地点"), limit=200)
    attendees = clean_text(attendees, _("约谈人"), required=False)
    interviewees = clean_text(interviewees, _("被约谈人"), required=False)
    extra = clean_text(extra, _("其他事由"), required=False)
    if scheduled_at is None:
        raise Invalid(_("请填写约谈时间。"))
    when = _as_utc(scheduled_at)
    if when.replace(tzinfo=UTC).astimezone(LOCAL_TZ).date() < today():
        raise Invalid(_("约谈时间不能早于今天。"))
    if flag is not None and flag.unit_id != unit.id:
        raise Invalid(_("所选标记不属于该单位。"))
    pending = db.session.scalar(select(Interview.id).where(Interview.unit_id == unit.id,
                                                           Interview.status == InterviewStatus.scheduled))
    if pending is not None:
        raise Conflict(_("%(unit)s已有待举行的约谈（#%(id)s），请先举行或取消。", unit=unit.name, id=pending))
    # the reasons are kept on the interview as a snapshot: their fields and ``text`` in the default language,
    # their sentence in every language (``texts``, read with reasons.reason_text)
    texts: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        with force_locale(language):
            found = reasons_for(unit)
            texts[language] = {r["key"]: r["text"] for r in found}
            if flag is not None:
                texts[language][f"flag:{flag.id}"] = _(
                    "%(kind)s：%(reasons)s", kind=flag_store.KIND_LABELS.get(flag.kind, flag.kind),
                    reasons=_("；").join(flag_store.reasons(flag.kind, flag.detail, flag.year)[:3]))
        if language == DEFAULT:
            computed = found
    if selected is not None:
        chosen = set(selected)
        computed = [r for r in computed if r["key"] in chosen]
    reasons = []
    if flag is not None:
        reasons.append({"key": f"flag:{flag.id}", "type": "flag", "flag_id": flag.id, "kind": flag.kind,
                        "text": texts[DEFAULT][f"flag:{flag.id}"]})
    reasons += computed
    for r in reasons:
        r["texts"] = {language: texts[language].get(r["key"], r["text"]) for language in LANGUAGES}
    reasons += [{"key": f"note:{i}", "type": "note", "text": line.strip()}
                for i, line in enumerate(extra.splitlines()) if line.strip()]
    if not reasons:
        raise Invalid(_("请至少列出一条约谈事由。"))
    now = utcnow()
    interview = Interview(unit_id=unit.id, flag_id=flag.id if flag else None, status=InterviewStatus.scheduled,
                          scheduled_at=when, place=place, attendees=attendees, interviewees=interviewees, reasons=reasons,
                          opened_by_id=actor.id, created_at=now, updated_at=now)
    db.session.add(interview)
    db.session.flush()
    _event(interview, actor, "open", to_status="scheduled",
           data={"flag_id": flag.id if flag else None, "reasons": len(reasons)})
    local = when.replace(tzinfo=UTC).astimezone(LOCAL_TZ)
    with stored_language():
        note = _("已发起约谈 #%(id)s", id=interview.id)
        at = _("%(year)s年%(month)s月%(day)s日 %(time)s", year=f"{local:%Y}", month=f"{local:%m}", day=f"{local:%d}",
               time=f"{local:%H:%M}")
        subject = _("【约谈通知】%(unit)s", unit=unit.name)
        body = (_("定于%(at)s在%(place)s约谈%(unit)s（被约谈人：%(people)s）。", at=at, place=place, unit=unit.name,
                  people=interviewees) if interviewees else
                _("定于%(at)s在%(place)s约谈%(unit)s。", at=at, place=place, unit=unit.name))
        body += "\n" + _("约谈事由：") + "\n" + "\n".join(f"{i}. {r['text']}" for i, r in enumerate(reasons, 1))
    if flag is not None:
        flag_store.resolve(flag, actor, resolution="interview", note=note)
    enqueue(users_of_unit(unit.id), kind="interview", key=f"interview:{interview.id}:open",
            subject=subject, link=interview_link(interview), body=body, data={"interview_id": interview.id})
    db.session.flush()
    return interview


def hold_interview(interview: Interview, actor, *, minutes: str, outcome: str, expected_version=None) -> Interview:
    """Record that the interview took place (minutes, outcome); its overdue reason tasks move to 约谈 on the ladder."""
    require(actor, SUPERVISORS, _l("只有督学可以记录约谈情况。"))
    _check_version(interview, expected_version)
    if _status(interview) != "scheduled":
        raise Conflict(_("约谈当前状态为“%(status)s”，不能再记录举行情况。", status=interview.status_label))
    minutes = clean_text(minutes, _("约谈记录"))
    outcome = clean_text(outcome, _("约谈结果"))
    now = utcnow()
    interview.status, interview.minutes, interview.outcome = InterviewStatus.held, minutes, outcome
    interview.held_at = interview.updated_at = now
    _flush_interview()
    moved = _ladder_to_interview(interview, actor)
    _event(interview, actor, "hold", from_status="scheduled", to_status="held", comment=outcome,
           data={"ladder_moved": moved})
    with stored_language():
        subject = _("【约谈纪要】%(unit)s", unit=interview.unit.name)
        body = _("约谈结果：%(outcome)s\n整改清单将另行下达。", outcome=outcome)
    enqueue(users_of_unit(interview.unit_id), kind="interview", key=f"interview:{interview.id}:held",
            subject=subject, body=body, link=interview_link(interview), data={"interview_id": interview.id})
    db.session.flush()
    return interview


def _ladder_to_interview(interview: Interview, actor) -> list[int]:
    """The reason tasks still overdue/escalated move to 约谈 (one audit row each, tagged with the interview).

    The unit already got the interview notice, so no per-task notice is sent for these moves."""
    ids = [r["task_id"] for r in interview.reasons or [] if r.get("type") == "task"]
    if not ids:
        return []
    moved = []
    with stored_language():
        comment = _("已约谈（约谈 #%(id)s）", id=interview.id)
    for task in db.session.scalars(select(Task).where(Task.id.in_(ids), Task.status.in_(WATCHED_STATES),
                                                      Task.ladder.in_(("overdue", "escalated"))).order_by(Task.id)):
        before = task.ladder
        ladder.fire(task, "call_interview", context(task, actor, comment))
        _audit(task, actor, "call_interview", from_ladder=before, to_ladder=task.ladder, from_status=task.status,
               to_status=task.status, comment=comment, data={"interview_id": interview.id})
        moved.append(task.id)
    flush_or_conflict()
    return moved


def close_interview(interview: Interview, actor, *, comment: str = "", expected_version=None, auto: bool = False) -> Interview:
    """Close a held interview: automatically once every item's task is completed, or by a supervisor when
    every item's task is completed or cancelled (or none was needed)."""
    if not auto:
        require(actor, SUPERVISORS, _l("只有督学可以结束约谈。"))
        _check_version(interview, expected_version)
    if _status(interview) != "held":
        raise Conflict(_("约谈当前状态为“%(status)s”，不能结束。", status=interview.status_label))
    statuses = [item.task.status if item.task else "cancelled" for item in interview.items]
    done = ("completed",) if auto else ("completed", "cancelled")
    if any(s not in done for s in statuses) or (auto and not statuses):
        raise Conflict(_("尚有整改事项未办结，约谈不能结束。"))
    comment = clean_text(comment, _("说明"), required=False)
    now = utcnow()
    interview.status, interview.closed_at, interview.updated_at = InterviewStatus.closed, now, now
    _flush_interview()
    actor = actor or system_user()
    with stored_language():
        note = comment or (_("整改事项已全部办结，约谈自动结束。") if auto else "")
        subject = _("【约谈结束】%(unit)s", unit=interview.unit.name)
        body = _("整改清单已全部办结，约谈结束。") if auto else (comment or _("约谈结束。"))
    _event(interview, actor, "close", from_status="held", to_status="closed", comment=note,
           data={"auto": auto, "items": len(statuses)})
    enqueue(users_of_unit(interview.unit_id) + users_with_role("supervisor"), kind="interview",
            key=f"interview:{interview.id}:closed", subject=subject, body=body, link=interview_link(interview),
            data={"interview_id": interview.id})
    db.session.flush()
    return interview


def cancel_interview(interview: Interview, actor, *, reason: str, expected_version=None) -> Interview:
    require(actor, SUPERVISORS, _l("只有督学可以取消约谈。"))
    _check_version(interview, expected_version)
    status = _status(interview)
    if status not in ("scheduled", "held") or (status == "held" and interview.items):
        raise Conflict(_("已下达整改事项的约谈不能取消。") if status == "held"
                       else _("约谈当前状态为“%(status)s”，不能取消。", status=interview.status_label))
    reason = clean_text(reason, _("取消理由"))
    now = utcnow()
    interview.status, interview.cancel_reason, interview.closed_at, interview.updated_at = (
        InterviewStatus.cancelled, reason, now, now)
    _flush_interview()
    _event(interview, actor, "cancel", from_status=status, to_status="cancelled", comment=reason)
    with stored_language():
        subject = _("【约谈取消】%(unit)s", unit=interview.unit.name)
        body = _("取消理由：%(reason)s", reason=reason)
    enqueue(users_of_unit(interview.unit_id), kind="interview", key=f"interview:{interview.id}:cancelled",
            subject=subject, body=body, link=interview_link(interview), data={"interview_id": interview.id})
    db.session.flush()
    return interview


def close_finished_interviews() -> list[int]:
    """Close every held interview whose rectification items' tasks are all completed (set-based find)."""
    any_item = exists().where(RectificationItem.interview_id == Interview.id)
    unfinished = (select(RectificationItem.id).outerjoin(Task, Task.id == RectificationItem.task_id)
                  .where(RectificationItem.interview_id == Interview.id,
                         (Task.id.is_(None)) | (Task.status != "completed")).exists())
    ids = list(db.session.scalars(select(Interview.id).where(Interview.status == InterviewStatus.held, any_item, ~unfinished)))
    for interview in db.session.scalars(select(Interview).where(Interview.id.in_(ids)).order_by(Interview.id)) if ids else []:
        close_interview(interview, None, auto=True)
    return ids


def sync_interview(interview: Interview) -> bool:
    """Page-load check: close a held interview whose every rectification task is completed."""
    items = interview.items
    if _status(interview) == "held" and items and all(i.task is not None and i.task.status == "completed" for i in items):
        close_interview(interview, None, auto=True)
        return True
    return False


def on_task_completed(task: Task) -> Interview | None:
    """Hook for the task verify path: a completed rectification task may finish its interview."""
    if task.kind != "rectification" or task.status != "completed":
        return None
    item = db.session.scalar(select(RectificationItem).where(RectificationItem.task_id == task.id))
    if item is None:
        return None
    return item.interview if sync_interview(item.interview) else None


# ── rectification ──────────────────────────────────────────────────────────────────────────
def add_item(interview: Interview, actor, *, text: str, unit: Unit, deadline: date, measure: Measure | None = None) -> RectificationItem:
    """Add a rectification item; it becomes a Task of kind 'rectification' in the owner unit's list."""
    require(actor, SUPERVISORS, _l("只有督学可以下达整改事项。"))
    if _status(interview) != "held":
        raise Conflict(_("约谈举行后才能下达整改清单。") if _status(interview) == "scheduled"
                       else _("约谈当前状态为“%(status)s”，不能再下达整改事项。", status=interview.status_label))
    text = clean_text(text, _("整改事项"), limit=MAX_ITEM_TEXT)
    if deadline is None:
        raise Invalid(_("请填写整改期限。"))
    day = today()
    if deadline < day:
        raise Invalid(_("整改期限不能早于今天。"))
    if measure is None:
        measure_id = default_measure_id(interview)
        measure = db.session.get(Measure, measure_id) if measure_id else None
    if measure is None:
        raise Invalid(_("请选择关联措施（整改任务归入一条措施）。"))
    now = utcnow()
    item = RectificationItem(interview_id=interview.id, text=text, unit_id=unit.id, deadline=deadline,
                             measure_id=measure.id, created_by_id=actor.id, created_at=now)
    db.session.add(item)
    db.session.flush()
    task = Task(plan_id=measure.plan_id, measure_id=measure.id, unit_id=unit.id, period=f"R{item.id}", kind="rectification",
                item_title=text, start_date=day, deadline=deadline, deadline_source="manual", status="assigned",
                ladder="normal", is_lead=False, progress_percent=0, created_at=now, updated_at=now)
    db.session.add(task)
    db.session.flush()
    item.task_id = task.id
    _audit(task, actor, "rectification", to_status="assigned", comment=text,
           data={"item_id": item.id, "interview_id": interview.id})
    _event(interview, actor, "add_item", comment=text, data={"item_id": item.id, "task_id": task.id, "unit_id": unit.id,
                                                              "deadline": deadline.isoformat()})
    db.session.flush()
    with stored_language():
        subject = _("【整改任务】%(text)s", text=text[:60])
        body = _("%(unit)s约谈（#%(id)s）整改事项：%(text)s\n整改期限：%(deadline)s。请在任务页面签收、报送进展并上传佐证材料。",
                 unit=interview.unit.name, id=interview.id, text=text, deadline=deadline.isoformat())
    enqueue(users_of_unit(unit.id), kind="rectification", key=f"rectification:item={item.id}",
            subject=subject, link=task_link(task), task_id=task.id, body=body,
            data={"item_id": item.id, "interview_id": interview.id})
    return item


# ── reading ────────────────────────────────────────────────────────────────────────────────
def interview_row(iv: Interview) -> dict:
    return {"id": iv.id, "unit_code": iv.unit.code, "unit_name": iv.unit.name, "status": iv.status_value,
            "status_label": iv.status_label, "scheduled_at": iv.scheduled_at.replace(tzinfo=UTC).astimezone(LOCAL_TZ),
            "place": iv.place, "attendees": iv.attendees, "interviewees": iv.interviewees, "flag_id": iv.flag_id,
            "reasons": [reason_text(r) for r in iv.reasons or []], "minutes": iv.minutes, "outcome": iv.outcome,
            "items": [item_row(i) for i in iv.items], "version": iv.version}


def item_row(item: RectificationItem) -> dict:
    task = item.task
    return {"id": item.id, "interview_id": item.interview_id, "text": item.text, "unit_code": item.unit.code,
            "unit_name": item.unit.name, "deadline": item.deadline, "measure_id": item.measure_id,
            "task_id": item.task_id, "task_status": task.status if task else None, "task_ladder": task.ladder if task else None}
