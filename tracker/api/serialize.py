"""JSON shapes of the API and their schemas, side by side so they stay in step.

Times are ISO 8601 UTC with a trailing Z; dates are YYYY-MM-DD. Non-finite floats (an evaluation may
hold one) become null: JSON has no NaN.
"""
from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from tracker.api.openapi import array, boolean, component, date_, datetime_, integer, obj, ref, string
from tracker.tasks.queries import task_row
from workflows import EVENT_LABELS, LADDER_EVENT_LABELS, LADDER_LABELS, STATE_LABELS

STATUSES = list(STATE_LABELS)
LADDERS = list(LADDER_LABELS)
EVENTS = list(EVENT_LABELS) + [e for e in LADDER_EVENT_LABELS if e not in EVENT_LABELS]


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def clean(value: Any) -> Any:
    """Deep copy fit for strict JSON: NaN/Infinity → None, dates → ISO text, tuples → lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [clean(v) for v in value]
    if isinstance(value, (datetime, date)):
        return iso(value)
    return value


ANY_OBJECT = {"type": "object", "additionalProperties": True}

# ── units ───────────────────────────────────────────────────────────────────────────────────
UNIT = component("Unit", obj(["id", "code", "name", "kind"], id=integer(1), code=string(), name=string(),
                             kind=string(enum=["department", "county"]), kind_label=string(), aliases=array(string())))


def unit(u) -> dict:
    return {"id": u.id, "code": u.code, "name": u.name, "kind": u.kind_value, "kind_label": u.kind_label,
            "aliases": list(u.aliases or [])}


USER = component("User", obj(["id", "username", "display_name", "role"], id=integer(1), username=string(),
                             display_name=string(), role=string(enum=["admin", "leadership", "supervisor", "unit"]),
                             role_label=string(), unit={"allOf": [UNIT], "nullable": True}))


def user(u, with_unit: bool = True) -> dict:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role.value,
            "role_label": u.role_label, "unit": unit(u.unit) if with_unit and u.unit else None}


def actor(u) -> dict | None:
    return None if u is None else {"id": u.id, "display_name": u.display_name, "role": u.role.value}


ACTOR = component("Actor", obj(["id", "display_name", "role"], id=integer(1), display_name=string(), role=string()))
NULLABLE_ACTOR = {"allOf": [ACTOR], "nullable": True}

# ── plans ───────────────────────────────────────────────────────────────────────────────────
PLAN = component("Plan", obj(["id", "code", "title"], id=integer(1), code=string(), title=string(), issuer=string(),
                             doc_number=string(), issued_on=date_(nullable=True), imported_at=datetime_(nullable=True),
                             section_count=integer(0), measure_count=integer(0)))


def plan(p, sections: int | None = None, measures: int | None = None) -> dict:
    out = {"id": p.id, "code": p.code, "title": p.title, "issuer": p.issuer, "doc_number": p.doc_number,
           "issued_on": iso(p.issued_on), "imported_at": iso(p.imported_at)}
    if sections is not None:
        out["section_count"], out["measure_count"] = sections, measures
    return out


MEASURE_UNIT = component("MeasureUnit", obj(["unit", "is_lead"], unit=UNIT, is_lead=boolean(), position=integer(0),
                                            via_group=string(nullable=True)))
STATUS_COUNTS = {"type": "object", "additionalProperties": integer(0)}
MEASURE = component("Measure", obj(
    ["id", "plan_id", "section_id", "number", "title"], id=integer(1), plan_id=integer(1), section_id=integer(1),
    number=string(), label=string(), title=string(), text=string(), deadline=date_(nullable=True),
    indicators=array(string()), groups=array(string()), units=array(MEASURE_UNIT), task_counts=STATUS_COUNTS))


def measure(m, counts: dict | None = None, units: bool = True) -> dict:
    out = {"id": m.id, "plan_id": m.plan_id, "section_id": m.section_id, "number": m.number, "label": m.label,
           "title": m.title, "text": m.text, "deadline": iso(m.deadline), "indicators": list(m.indicators or []),
           "groups": list(m.groups or [])}
    if units:
        out["units"] = [{"unit": unit(link.unit), "is_lead": link.is_lead, "position": link.position,
                         "via_group": link.via_group} for link in m.unit_links]
    if counts is not None:
        out["task_counts"] = counts
    return out


SECTION = component("Section", obj(["id", "number", "title", "measures"], id=integer(1), number=string(),
                                   title=string(), position=integer(0), measures=array(MEASURE)))
MILESTONE = component("Milestone", obj(["due"], due=date_(), min_share={"type": "number", "nullable": True},
                                       text=string()))
PLAN_DETAIL = component("PlanDetail", {"allOf": [PLAN, obj(
    ["sections"], preamble=string(), sections=array(SECTION), milestones=array(MILESTONE),
    task_counts=STATUS_COUNTS)]})

# ── tasks ───────────────────────────────────────────────────────────────────────────────────
TASK = component("Task", obj(
    ["id", "plan_id", "measure", "unit_code", "deadline", "status", "ladder", "version"],
    id=integer(1), plan_id=integer(1), measure=string(), measure_title=string(), unit_code=string(),
    unit_name=string(), unit_kind=string(), is_lead=boolean(), period=string(), deadline=date_(),
    status=string(enum=STATUSES), ladder=string(enum=LADDERS), progress=integer(0, 100), version=integer(1)))
ALLOWED_EVENT = component("AllowedEvent", obj(["event", "label", "machine", "requires_reason"], event=string(),
                                              label=string(), machine=string(enum=["lifecycle", "ladder"]),
                                              requires_reason=boolean()))
PROGRESS = component("ProgressReport", obj(["id", "task_id", "percent", "text", "created_at"], id=integer(1),
                                           task_id=integer(1), percent=integer(0, 100), text=string(),
                                           author=NULLABLE_ACTOR, created_at=datetime_()))


def progress(r) -> dict:
    return {"id": r.id, "task_id": r.task_id, "percent": r.percent, "text": r.text, "author": actor(r.author),
            "created_at": iso(r.created_at)}


EVIDENCE = component("Evidence", obj(
    ["id", "task_id", "filename", "kind", "created_at"], id=integer(1), task_id=integer(1), filename=string(),
    kind=string(), note=string(), size=integer(0, nullable=True), mimetype=string(nullable=True),
    sha256=string(nullable=True), uploader=NULLABLE_ACTOR, created_at=datetime_(),
    download_url=string(nullable=True), data=ANY_OBJECT))


def evidence(e) -> dict:
    from tracker.api import PREFIX

    stored = e.stored
    return {"id": e.id, "task_id": e.task_id, "filename": e.filename, "kind": e.kind, "note": e.note,
            "size": stored.size if stored else None, "mimetype": stored.mimetype if stored else None,
            "sha256": e.sha256, "uploader": actor(e.uploader), "created_at": iso(e.created_at),
            "download_url": f"{PREFIX}/evidence/{e.id}/download" if e.sha256 else None, "data": clean(e.data or {})}


HISTORY = component("TaskEvent", obj(
    ["id", "event", "created_at"], id=integer(1), event=string(), label=string(), actor=NULLABLE_ACTOR,
    from_status=string(nullable=True), to_status=string(nullable=True), from_ladder=string(nullable=True),
    to_ladder=string(nullable=True), comment=string(), data=ANY_OBJECT, created_at=datetime_()))


def history(ev) -> dict:
    from tracker.ui import any_event_label

    return {"id": ev.id, "event": ev.event, "label": any_event_label(ev.event), "actor": actor(ev.actor),
            "from_status": ev.from_status, "to_status": ev.to_status, "from_ladder": ev.from_ladder,
            "to_ladder": ev.to_ladder, "comment": ev.comment, "data": clean(ev.data or {}),
            "created_at": iso(ev.created_at)}


EXTENSION = component("ExtensionRequest", obj(
    ["id", "task_id", "status", "old_deadline", "new_deadline"], id=integer(1), task_id=integer(1),
    status=string(enum=["pending", "approved", "rejected"]), old_deadline=date_(), new_deadline=date_(),
    reason=string(), needs_leadership=boolean(), requester=NULLABLE_ACTOR, created_at=datetime_(),
    decided_by=NULLABLE_ACTOR, decided_at=datetime_(nullable=True), decision_comment=string()))


def extension(r) -> dict:
    return {"id": r.id, "task_id": r.task_id, "status": r.status, "old_deadline": iso(r.old_deadline),
            "new_deadline": iso(r.new_deadline), "reason": r.reason, "needs_leadership": r.needs_leadership,
            "requester": actor(r.requester), "created_at": iso(r.created_at), "decided_by": actor(r.decided_by),
            "decided_at": iso(r.decided_at), "decision_comment": r.decision_comment}


TASK_DETAIL = component("TaskDetail", {"allOf": [TASK, obj(
    ["allowed_events", "progress_reports", "evidence", "history", "extensions"],
    title=string(), measure_id=integer(1), unit_id=integer(1), start_date=date_(), deadline_source=string(),
    completed_at=datetime_(nullable=True), last_progress_at=datetime_(nullable=True), indicators=array(string()),
    allowed_events=array(ALLOWED_EVENT), progress_reports=array(PROGRESS), evidence=array(EVIDENCE),
    history=array(HISTORY), extensions=array(EXTENSION))]})


def task(t) -> dict:
    return task_row(t)


TRANSITION = component("TransitionResult", obj(
    ["task", "event", "from", "to", "status", "ladder", "version"], task=integer(1), event=string(),
    machine=string(enum=["lifecycle", "ladder"]), **{"from": string(), "to": string()},
    status=string(enum=STATUSES), ladder=string(enum=LADDERS), version=integer(1)))

# ── notices ─────────────────────────────────────────────────────────────────────────────────
NOTIFICATION = component("Notification", obj(
    ["id", "kind", "subject", "created_at", "read"], id=integer(1), kind=string(), subject=string(), body=string(),
    link=string(), task_id=integer(1, nullable=True), created_at=datetime_(), read=boolean(),
    read_at=datetime_(nullable=True)))


def notification(n) -> dict:
    return {"id": n.id, "kind": n.kind, "subject": n.subject, "body": n.body, "link": n.link, "task_id": n.task_id,
            "created_at": iso(n.created_at), "read": n.read_at is not None, "read_at": iso(n.read_at)}


# ── indicators ──────────────────────────────────────────────────────────────────────────────
EVALUATION = component("Evaluation", obj(
    ["id", "unit", "year", "pass", "assessable", "computed_at"], id=integer(1), unit=UNIT, year=integer(),
    **{"pass": boolean()}, assessable=boolean(), catalog_version=integer(0), computed_at=datetime_(),
    aspects={"type": "object", "additionalProperties": boolean(nullable=True)}))


def evaluation(ev, unit_row) -> dict:
    result = ev.result or {}
    return {"id": ev.id, "unit": unit(unit_row), "year": ev.year, "pass": ev.passed, "assessable": ev.assessable,
            "catalog_version": ev.catalog_version, "computed_at": iso(ev.computed_at),
            "aspects": {a: (b.get("pass") if isinstance(b, dict) else None)
                        for a, b in (result.get("aspects") or {}).items()}}


GAP = component("Gap", obj(["code"], code=string(), name=string(), kind=string(), level=string(), school=string(),
                           value={}, standard={}, gap={"nullable": True}, ratio={"nullable": True},
                           below_floor=boolean(nullable=True)))
EVALUATION_DETAIL = component("EvaluationDetail", {"allOf": [EVALUATION, obj(
    ["result", "gaps"], result=ANY_OBJECT, gaps=array(GAP), sample=boolean(),
    effects=ANY_OBJECT)]})
FLAG = component("CountyFlag", obj(
    ["id", "unit", "kind", "year", "created_at", "resolved"], id=integer(1), unit=UNIT, kind=string(), kind_label=string(),
    reasons=array(string()), year=integer(), detail=ANY_OBJECT, created_at=datetime_(), resolved=boolean(), resolved_at=datetime_(nullable=True),
    resolved_by_id=integer(1, nullable=True)))


def flag(f) -> dict:
    return {"id": f.id, "unit": unit(f.unit), "kind": f.kind, "year": f.year, "detail": clean(f.detail or {}),
            "created_at": iso(f.created_at), "resolved": f.resolved_at is not None, "resolved_at": iso(f.resolved_at),
            "resolved_by_id": f.resolved_by_id}


COUNTY = component("County", obj(["unit", "evaluation", "open_flags"], unit=UNIT,
                                 evaluation={"allOf": [EVALUATION], "nullable": True}, open_flags=integer(0)))
SCHOOL_IMPORT = component("SchoolImport", obj(
    ["year", "rows"], year=integer(), rows=integer(0), schools=integer(0), new_schools=integer(0),
    import_id=integer(1), counties=array(ANY_OBJECT), evaluations=array(ANY_OBJECT)))

__all__ = ["ref"]
