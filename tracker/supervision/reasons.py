"""Why a unit is interviewed: its overdue open tasks (measure, days overdue) and its latest evaluation's
failing aspects and largest shortfalls — computed when the interview is opened and kept on it as a snapshot."""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from tracker.clock import today
from tracker.extensions import db
from tracker.i18n import current_language
from tracker.plans.models import Measure, Section
from tracker.supervision.models import WATCHED_STATES, Interview
from tracker.tasks.models import Task
from tracker.units.models import Unit
from workflows import LADDER_LABELS

#: how many indicator shortfalls an interview's reasons list (largest relative gap first)
MAX_GAPS = 10


def measure_label(number, title: str) -> str:
    """A measure's label from its number and title, written as Measure.label writes it."""
    number = str(number or "")
    return f"{number} {title}" if number[:1].isdigit() else _("（%(number)s）%(title)s", number=number, title=title)


def reason_text(reason: dict) -> str:
    """One of an interview's reasons in the reader's language. The snapshot keeps each computed reason's sentence
    in every language (``texts``); a typed-in reason, or a snapshot kept before that, has the one ``text``."""
    return (reason.get("texts") or {}).get(current_language()) or reason.get("text", "")


def reasons_for(unit: Unit, day: date | None = None) -> list[dict]:
    """Why this unit should be interviewed: its overdue open tasks, then its latest evaluation's shortfalls."""
    day = day or today()
    tasks = db.session.scalars(
        select(Task).join(Task.measure).join(Measure.section).options(contains_eager(Task.measure))
        .where(Task.unit_id == unit.id, Task.status.in_(WATCHED_STATES), Task.deadline < day)
        .order_by(Task.deadline, Measure.plan_id, Section.position, Measure.position, Task.id)).unique().all()
    out = []
    for t in tasks:
        late = (day - t.deadline).days
        out.append({"key": f"task:{t.id}", "type": "task", "task_id": t.id, "measure_id": t.measure_id,
                    "measure": t.measure.label, "title": t.display_title, "deadline": t.deadline.isoformat(),
                    "days_overdue": late, "ladder": t.ladder,
                    "text": _("%(task)s：逾期%(days)s天（完成时限%(deadline)s，督办等级：%(ladder)s）", task=t.display_title,
                              days=late, deadline=t.deadline.isoformat(), ladder=LADDER_LABELS.get(t.ladder, t.ladder))})
    out.extend(_indicator_reasons(unit))
    return out


def _indicator_reasons(unit: Unit) -> list[dict]:
    if unit.kind_value != "county":
        return []
    from tracker.indicators import store

    evaluation = store.latest_evaluation(unit.id)
    if evaluation is None or evaluation.result.get("pass") is True:
        return []
    result, year = evaluation.result, evaluation.year
    out = []
    failing = [a for a, body in result.get("aspects", {}).items() if body.get("pass") is False]
    if failing:
        labels = [store.ASPECT_LABELS.get(a, a) for a in failing]
        out.append({"key": f"aspects:{year}", "type": "indicator", "year": year, "aspects": failing,
                    "text": _("%(year)s年督导评估未达标方面：%(aspects)s", year=year, aspects=_("、").join(map(str, labels)))})
    for i, g in enumerate(store.gap_list(store.detailed(evaluation), store.current_catalog())[:MAX_GAPS]):
        where = "".join(x for x in (g.get("level"), g.get("school")) if x)
        kind = _("%(kind)s，%(where)s", kind=g["kind"], where=where) if where else g["kind"]
        out.append({"key": f"gap:{year}:{i}", "type": "indicator", "year": year, "code": g["code"],
                    "text": _("%(year)s年 %(code)s %(name)s（%(kind)s）：实际%(value)s，标准%(standard)s", year=year,
                              code=g["code"], name=g["name"], kind=kind, value=_fmt(g["value"]), standard=_fmt(g["standard"]))})
    return out


def _fmt(value) -> str:
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def default_measure_id(interview: Interview) -> int | None:
    """The related measure a new rectification item gets unless told otherwise: the first overdue task's."""
    return next((r.get("measure_id") for r in interview.reasons or [] if r.get("type") == "task" and r.get("measure_id")), None)
