"""Digests: the daily release of held e-mail/robot notices and the weekly leadership briefing.

Daily: a person in digest mode (the default) gets at most one e-mail and one robot message a day.
Their e-mail/webhook rows are born *held* (pending, no ``next_attempt_at``); at the daily-digest time
this job releases every held row at once — one UPDATE — stamping ``batch='daily:<date>'``, and the
dispatcher sends each person's released rows as one message listing all their items. The job runs
once per day (slot claim), so rows queued later that day wait for tomorrow. In working-day mode it
does nothing on a weekend or holiday: the rows wait for the next working day's digest.

Weekly: Monday 08:30, overdue open tasks grouped by county then department, to the leadership group
(in-app, e-mail/robot by preference) and to the leadership group robot if configured. Nothing is
sent when nothing is overdue.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from notifications import messages
from tracker.extensions import db
from tracker.notices.models import Notification
from tracker.notices.outbox import Audience, Notice, count_by_channel, insert_rows
from tracker.plans.models import Measure
from tracker.tasks.models import Task
from tracker.units.models import Unit
from workflows.ladder import LADDER_LABELS

#: the weekly briefing lists at most this many tasks (the rest are counted in the subject)
WEEKLY_MAX_ROWS = 1000
OPEN_STATES = ("assigned", "in_progress", "submitted", "returned")


def release_daily(today: date, now: datetime, *, working_days: bool, calendar) -> dict:
    if working_days and calendar is not None and not calendar.is_workday(today):
        return {"released": 0, "messages": 0, "deferred": _("非工作日：待下一个工作日发送")}
    n = Notification.__table__.c
    held = (n.status == "pending") & n.next_attempt_at.is_(None) & n.channel.in_(("email", "webhook"))
    #: people × channels with something held (each unit robot counts once under the system user)
    recipients = db.session.scalar(
        select(func.count()).select_from(select(n.user_id, n.channel).where(held).distinct().subquery()))
    released = db.session.execute(update(Notification.__table__).where(held)
                                  .values(next_attempt_at=now, batch=f"daily:{today.isoformat()}")).rowcount
    return {"released": released, "messages": recipients or 0}


def _week(today: date) -> tuple[date, date, str]:
    monday = today - timedelta(days=today.weekday())
    iso = monday.isocalendar()
    return monday - timedelta(days=7), monday - timedelta(days=1), f"{iso[0]}-W{iso[1]:02d}"


def overdue_rows(today: date, link) -> tuple[list[dict], int]:
    """Open tasks past their deadline, county tasks first (by county), then departments.

    The rows are kept on the notice (the dispatcher renders the mail from them), so their labels are
    written in the default language, whoever reads them."""
    base = (select(Task.id, Task.deadline, Task.ladder, Unit.name, Unit.kind, Measure.number, Measure.title)
            .join(Unit, Unit.id == Task.unit_id).join(Measure, Measure.id == Task.measure_id)
            .where(Task.status.in_(OPEN_STATES), Task.deadline < today))
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    rows = db.session.execute(base.order_by(Unit.kind.desc(), Unit.name, Task.deadline, Measure.position)
                              .limit(WEEKLY_MAX_ROWS)).all()
    out = []
    for r in rows:
        kind = getattr(r.kind, "value", r.kind)
        measure = f"（{r.number}）{r.title}" if not str(r.number)[:1].isdigit() else f"{r.number} {r.title}"  # i18n: data
        out.append({
            "county": r.name if kind == "county" else _("州（市）直部门"),
            "department": _("县（市）人民政府") if kind == "county" else r.name,
            "measure": measure, "task_title": f"{measure} · {r.name}", "deadline": r.deadline.isoformat(),
            "days_overdue": (today - r.deadline).days, "ladder_label": str(LADDER_LABELS.get(r.ladder, r.ladder)),
            "link": link(r.id), "task_id": r.id,
        })
    return out, total or 0


def weekly_digest(today: date, audience: Audience, link, ledger_link: str, *, group_robot: bool) -> dict:
    rows, total = overdue_rows(today, link)
    if not rows:
        return {"overdue": 0, "notices_queued": 0, "note": _("没有逾期任务，不发送")}
    start, end, week = _week(today)
    rendered = messages.weekly_leadership_digest(rows, start, end, link=ledger_link)
    subject = (rendered.subject if total <= len(rows) else
               _("%(subject)s（列出前%(shown)s项，共%(total)s项）", subject=rendered.subject, shown=len(rows), total=total))
    notice = Notice(kind="weekly_digest", key=f"weekly_digest:{week}", subject=subject, body=rendered.text,
                    link=ledger_link, data={"rows": rows, "week_start": start.isoformat(), "week_end": end.isoformat(),
                                            "total": total})
    out = audience.rows_for(notice, audience.role("leadership"), digestible=False)
    if group_robot:
        out.append(audience.group_robot_row(notice))
    added = insert_rows(out)
    return {"week": week, "overdue": total, "notices_queued": added, "by_channel": count_by_channel(out)}
