"""Flags for supervisors, computed from the data — never typed in.

`refresh(today)` upserts CountyFlag rows (unique unit × kind × year) for:

* ``overdue`` — a county or department unit has plan tasks at the ladder's 约谈/问责 level, or open
  and overdue by at least the policy's ``interview_after_days`` (year = this year);
* ``milestone`` — a plan milestone's date has passed and the share of passing counties is below its
  ``min_share``: every county of that plan that does not pass (year = the milestone's year);
* ``accountability`` — a rectification item's task is not completed and its deadline has passed,
  with no accountability record yet (year = the deadline's year);
* ``slippage`` rows come from the indicators module and are only listed here.

A flag is open while its condition holds. When the condition goes away it is resolved automatically
(``detail.resolution = 'auto'``) and reopens if the condition returns. A flag resolved by an action
(an interview opened from it, an accountability record, a supervisor's 已处理) stays resolved for
that year — an accountability flag reopens only for items it had not covered.

Set-based: one query per kind for the condition, one for the existing flags; new flags are inserted
with ``ON CONFLICT DO NOTHING`` so a page load and the scheduler refreshing at once cannot collide.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, false, func, or_, select
from sqlalchemy.orm import selectinload

from tracker.clock import today as clock_today
from tracker.clock import utcnow
from tracker.errors import Invalid
from tracker.extensions import db
from tracker.i18n import DEFAULT
from tracker.indicators.models import CountyFlag
from tracker.notices.outbox import enqueue, insert_ignore, users_with_role
from tracker.plans.models import Measure, Plan
from tracker.supervision.access import SUPERVISORS, require
from tracker.supervision.models import WATCHED_STATES, AccountabilityRecord, Interview, InterviewStatus, RectificationItem
from tracker.supervision.reasons import measure_label
from tracker.tasks.models import Task
from workflows import LADDER_LABELS

KIND_LABELS = {"overdue": _l("逾期未完成"), "slippage": _l("创建后滑坡"), "milestone": _l("目标节点未达成"),
               "accountability": _l("整改逾期（待问责）")}
COMPUTED_KINDS = ("overdue", "milestone", "accountability")
#: how many tasks an overdue flag's detail lists (the count covers all)
DETAIL_TASKS = 20


def refresh(day: date | None = None) -> dict:
    """Bring the computed flags up to date as of `day` and close interviews whose rectification is done.

    Idempotent; flushes, never commits. Returns counts per kind: opened / updated / resolved / reopened."""
    from tracker.supervision.operations import close_finished_interviews

    day = day or clock_today()
    out = {
        "overdue": _sync("overdue", _overdue_wanted(day)),
        "milestone": _sync("milestone", _milestone_wanted(day)),
        "accountability": _sync("accountability", _accountability_wanted(day)),
    }
    out["interviews_closed"] = close_finished_interviews()
    return out


# ── conditions ─────────────────────────────────────────────────────────────────────────────
def _overdue_wanted(day: date) -> dict[tuple[int, int], dict]:
    """Per unit: how many plan tasks are at 约谈 or overdue by the interview threshold, and the oldest few.

    One statement: window functions number and count each unit's tasks in SQL, so only the first
    DETAIL_TASKS rows per unit come back however many tasks are overdue."""
    from tracker.tasks.operations import current_policy

    threshold = current_policy().interview_after_days
    cutoff = day - timedelta(days=threshold)
    ranked = (select(Task.id, Task.unit_id, Task.deadline, Task.ladder, Task.measure_id,
                     func.row_number().over(partition_by=Task.unit_id, order_by=(Task.deadline, Task.id)).label("rn"),
                     func.count().over(partition_by=Task.unit_id).label("n"))
              .where(Task.status.in_(WATCHED_STATES), Task.kind == "plan",
                     or_(Task.ladder.in_(("interview", "accountability")), Task.deadline <= cutoff))
              .subquery())
    rows = db.session.execute(
        select(ranked, Measure.number, Measure.title).join(Measure, Measure.id == ranked.c.measure_id)
        .where(ranked.c.rn <= DETAIL_TASKS).order_by(ranked.c.unit_id, ranked.c.rn)).all()
    wanted: dict[tuple[int, int], dict] = {}
    for r in rows:
        late = max((day - r.deadline).days, 0)
        d = wanted.setdefault((r.unit_id, day.year), {"as_of": day.isoformat(), "threshold_days": threshold,
                                                      "count": r.n, "worst_days": late, "tasks": []})
        d["tasks"].append({"task_id": r.id, "measure": _label(r.number, r.title), "measure_no": r.number,
                           "measure_title": r.title, "deadline": r.deadline.isoformat(), "days_overdue": late,
                           "ladder": r.ladder})
    return wanted


def _label(number: str, title: str) -> str:
    """As Measure.label: plan data, kept in the flag's detail (which each refresh compares)."""
    return f"（{number}）{title}" if not number[:1].isdigit() else f"{number} {title}"  # i18n: data


def _milestone_wanted(day: date) -> dict[tuple[int, int], dict]:
    from tracker.dashboard.milestones import passing_counties

    wanted: dict[tuple[int, int], dict] = {}
    plans = db.session.scalars(select(Plan).options(selectinload(Plan.milestones), selectinload(Plan.schedule))).all()
    passing = None
    for plan in plans:
        due = [m for m in plan.milestones if m.min_share is not None and m.due < day]
        counties = sorted({t.unit_id for t in plan.schedule})
        if not due or not counties:
            continue
        if passing is None:
            passing = passing_counties(plan) or set()
        share = len(passing & set(counties)) / len(counties)
        for m in due:
            if share >= m.min_share:
                continue
            for unit_id in counties:
                if unit_id not in passing:
                    wanted[(unit_id, m.due.year)] = {"plan_id": plan.id, "due": m.due.isoformat(), "target": m.min_share,
                                                     "actual": round(share, 4), "text": m.text}
    return wanted


def _accountability_wanted(day: date) -> dict[tuple[int, int], dict]:
    recorded = exists().where(AccountabilityRecord.item_id == RectificationItem.id)
    rows = db.session.execute(
        select(RectificationItem.id, RectificationItem.unit_id, RectificationItem.interview_id, RectificationItem.text,
               Task.id.label("task_id"), Task.deadline)
        .join(Task, Task.id == RectificationItem.task_id)
        .where(Task.status.notin_(("completed", "cancelled")), Task.deadline < day, ~recorded)
        .order_by(Task.deadline, RectificationItem.id)).all()
    wanted: dict[tuple[int, int], dict] = {}
    for r in rows:
        d = wanted.setdefault((r.unit_id, r.deadline.year), {"items": []})
        d["items"].append({"item_id": r.id, "task_id": r.task_id, "interview_id": r.interview_id, "text": r.text,
                           "deadline": r.deadline.isoformat(), "days_overdue": (day - r.deadline).days})
    for d in wanted.values():  # the first missed item, for callers that want one
        d["item_id"], d["task_id"] = d["items"][0]["item_id"], d["items"][0]["task_id"]
    return wanted


# ── the upsert ─────────────────────────────────────────────────────────────────────────────
def _item_ids(detail: dict) -> set[int]:
    return {i["item_id"] for i in detail.get("items", [])}


def _sync(kind: str, wanted: dict[tuple[int, int], dict]) -> dict:
    now = utcnow()
    counts = {"opened": 0, "updated": 0, "resolved": 0, "reopened": 0}
    units = {u for u, _ in wanted}
    existing = {(f.unit_id, f.year): f for f in db.session.scalars(
        select(CountyFlag).where(CountyFlag.kind == kind,
                                 or_(CountyFlag.resolved_at.is_(None), CountyFlag.unit_id.in_(units) if units else false())))}
    new_keys = []
    for key, detail in wanted.items():
        flag = existing.get(key)
        if flag is None:
            inserted = db.session.execute(insert_ignore(CountyFlag.__table__).values(
                unit_id=key[0], kind=kind, year=key[1], detail=detail, created_at=now)).rowcount
            if inserted:
                counts["opened"] += 1
                new_keys.append(key)
            continue
        if flag.resolved_at is not None:
            resolution = (flag.detail or {}).get("resolution")
            fresh_items = kind == "accountability" and _item_ids(detail) - set((flag.detail or {}).get("handled_items", []))
            if resolution != "auto" and not fresh_items:
                continue
            flag.resolved_at, flag.resolved_by_id = None, None
            counts["reopened"] += 1
        elif flag.detail == detail:
            continue
        else:
            counts["updated"] += 1
        flag.detail = detail
    for key, flag in existing.items():
        if flag.resolved_at is None and key not in wanted:
            flag.resolved_at = now
            flag.detail = {**(flag.detail or {}), "resolution": "auto"}
            counts["resolved"] += 1
    db.session.flush()
    if new_keys:
        with force_locale(DEFAULT):  # notices to every supervisor: the default language
            _announce(kind, new_keys, wanted)
    return counts


def _announce(kind: str, keys: list[tuple[int, int]], wanted: dict) -> None:
    from tracker.units.models import Unit

    names = dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_([u for u, _ in keys]))).all())
    supervisors = users_with_role("supervisor")
    link = _flags_link()
    if kind == "milestone":
        by_due: dict[str, list[int]] = {}
        for key in keys:
            by_due.setdefault(wanted[key]["due"], []).append(key[0])
        for due, unit_ids in by_due.items():
            d = wanted[(unit_ids[0], int(due[:4]))]
            enqueue(supervisors, kind="flag", key=f"flag:milestone:plan={d['plan_id']}:due={due}",
                    subject=_("【目标节点未达成】%(due)s节点达标县市比例%(actual)s，低于%(target)s", due=due,
                              actual=f"{d['actual']:.0%}", target=f"{d['target']:.0%}"),
                    body=_("未达标县市：%(counties)s。请跟进约谈或问责。",
                           counties=_("、").join(names.get(u, str(u)) for u in unit_ids)), link=link)
        return
    for unit_id, year in keys:
        enqueue(supervisors, kind="flag", key=f"flag:{kind}:unit={unit_id}:year={year}",
                subject=_("【%(kind)s】%(unit)s", kind=KIND_LABELS[kind], unit=names.get(unit_id, unit_id)),
                body=_("；").join(reasons(kind, wanted[(unit_id, year)], year)), link=link)


def _flags_link() -> str:
    from flask import url_for

    try:
        return url_for("supervision.flags", _external=True)
    except RuntimeError:
        return "/supervision/flags"


# ── reading ────────────────────────────────────────────────────────────────────────────────
def reasons(kind: str, detail: dict, year: int) -> list[str]:
    """The flag's reasons as sentences in the reader's language (pages, CLI, notices)."""
    detail = detail or {}
    if kind == "overdue":
        lines = [_("%(num)s项任务逾期满%(threshold)s天或已进入约谈等级，最长逾期%(worst)s天", num=detail.get("count", 0),
                   threshold=detail.get("threshold_days", ""), worst=detail.get("worst_days", 0))]
        lines += [_("%(measure)s：逾期%(days)s天（督办等级：%(ladder)s）",
                    measure=measure_label(t["measure_no"], t["measure_title"]) if "measure_no" in t else t["measure"],
                    days=t["days_overdue"], ladder=LADDER_LABELS.get(t["ladder"], t["ladder"]))
                  for t in detail.get("tasks", [])[:5]]
        return lines
    if kind == "milestone":
        return [_("%(due)s目标节点要求达标县市比例不低于%(target)s，实际%(actual)s，本县市未达标", due=detail.get("due"),
                  target=f"{detail.get('target', 0):.0%}", actual=f"{detail.get('actual', 0):.0%}")]
    if kind == "accountability":
        return [_("整改事项#%(id)s“%(text)s”逾期未完成（整改期限%(deadline)s）", id=i["item_id"], text=i["text"],
                  deadline=i["deadline"]) for i in detail.get("items", [])]
    if kind == "slippage":
        lines = []
        if detail.get("overall_passed_in"):
            lines.append(_("%(passed)s年总体达标，%(year)s年未达标", passed=detail["overall_passed_in"], year=year))
        lines += [_("（%(number)s）%(title)s：%(failing)s未达标", number=m["measure"], title=m["measure_title"],
                    failing=_("、").join(m.get("failing", [])))
                  for m in detail.get("measures", [])]
        return lines or [_("%(year)s年督导评估出现滑坡", year=year)]
    return [str(detail)]


def open_flags(kind: str | None = None) -> list[CountyFlag]:
    stmt = (select(CountyFlag).options(selectinload(CountyFlag.unit)).where(CountyFlag.resolved_at.is_(None))
            .order_by(CountyFlag.kind, CountyFlag.year.desc(), CountyFlag.unit_id))
    if kind:
        stmt = stmt.where(CountyFlag.kind == kind)
    return list(db.session.scalars(stmt))


def active_interviews(unit_ids) -> dict[int, Interview]:
    """The latest scheduled or held interview of each unit."""
    out: dict[int, Interview] = {}
    if not unit_ids:
        return out
    for iv in db.session.scalars(select(Interview).where(Interview.unit_id.in_(list(unit_ids)),
                                                         Interview.status.in_((InterviewStatus.scheduled, InterviewStatus.held)))
                                 .order_by(Interview.id)):
        out[iv.unit_id] = iv
    return out


def flag_row(flag: CountyFlag) -> dict:
    return {"id": flag.id, "unit_code": flag.unit.code, "unit_name": flag.unit.name, "kind": flag.kind,
            "kind_label": str(KIND_LABELS.get(flag.kind, flag.kind)), "year": flag.year,
            "reasons": reasons(flag.kind, flag.detail, flag.year), "detail": flag.detail,
            "created_at": flag.created_at, "resolved_at": flag.resolved_at}


def resolve(flag: CountyFlag, actor, resolution: str = "manual", note: str = "") -> CountyFlag:
    """Mark a flag handled by an action (manual 已处理, an interview, an accountability record)."""
    if resolution == "manual":
        require(actor, SUPERVISORS, _l("只有督学可以将标记设为已处理。"))
    if flag.resolved_at is not None:
        if resolution == "manual":
            raise Invalid(_("该标记已处理。"))
        return flag
    detail = dict(flag.detail or {})
    detail["resolution"] = resolution
    if note:
        detail["note"] = note.strip()[:1000]
    if flag.kind == "accountability":
        detail["handled_items"] = sorted(_item_ids(detail) | set(detail.get("handled_items", [])))
    flag.detail, flag.resolved_at, flag.resolved_by_id = detail, utcnow(), actor.id if actor else None
    db.session.flush()
    return flag
