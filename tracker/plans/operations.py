"""Plan import and export: one plan file ⇄ plan, sections, measures, units and tasks.

Operations flush but never commit: the CLI command or request commits once, so an import that
fails half way leaves the database exactly as it was.
"""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select

from tracker.clock import today as clock_today
from tracker.clock import utcnow
from tracker.extensions import db
from tracker.plans.models import CountyTarget, Measure, MeasureUnit, Milestone, Plan, Section
from tracker.plans.spec import MeasureSpec, MilestoneSpec, PlanFileError, PlanSpec, SectionSpec, UnitSpec, measure_deadline
from tracker.tasks.models import Task, TaskEvent
from tracker.units.models import Unit, UnitKind


def known_unit_specs() -> list[UnitSpec]:
    """The units already in the system, for a 任务分解表 that does not list its own."""
    return [UnitSpec(code=u.code, name=u.name, kind=u.kind_value,
                     group_list="departments" if u.kind_value == "department" else "counties", aliases=list(u.aliases or []))
            for u in db.session.scalars(select(Unit).order_by(Unit.id))]


def import_plan(spec: PlanSpec, source: str = "") -> dict:
    """Create or update the plan in place; returns counts. Raises PlanFileError, changing nothing."""
    today = clock_today()
    units = _upsert_units(spec, source)
    plan = db.session.scalar(select(Plan).where(Plan.code == spec.code))
    if plan is None:
        plan = Plan(code=spec.code, title=spec.title)
        db.session.add(plan)
    plan.title, plan.issuer, plan.doc_number = spec.title, spec.issuer, spec.doc_number
    plan.issued_on, plan.preamble, plan.imported_at = spec.issued_on, spec.preamble, utcnow()
    plan.extra = {
        "extra": spec.extra, "unit_groups": spec.unit_groups, "default_units": spec.default_units,
        "schedule_note": spec.schedule_note, "schedule_sample": spec.schedule_sample,
        "unit_lists": {u.code: u.group_list for u in spec.units},
        "list_names": spec.unit_lists,
    }
    db.session.flush()
    plan.milestones = [Milestone(due=m.due, min_share=m.min_share, text=m.text, extra=m.extra) for m in spec.milestones]
    _sync_schedule(plan, spec, units)
    measures = _sync_sections(plan, spec, units, source)
    counts = _sync_tasks(plan, spec, measures, units, today)
    return {"plan": plan.code, "plan_id": plan.id, "sections": len(spec.sections), "measures": len(spec.measures),
            "units": len({u.id for m in measures.values() for u in _expand(m[1], spec, units)}), **counts}


def _upsert_units(spec: PlanSpec, source: str) -> dict[str, Unit]:
    existing = {u.code: u for u in db.session.scalars(select(Unit))}
    by_name = {u.name: u for u in existing.values()}
    problems = []
    for us in spec.units:
        other = by_name.get(us.name)
        if other is not None and other.code != us.code:
            problems.append(_("单位“%(name)s”在系统中的代码是“%(code)s”，文件中写作“%(file_code)s”", name=us.name,
                              code=other.code, file_code=us.code))
            continue
        unit = existing.get(us.code)
        if unit is None:
            unit = Unit(code=us.code, name=us.name, kind=UnitKind(us.kind), aliases=list(us.aliases))
            db.session.add(unit)
            existing[us.code] = unit
        else:
            if unit.kind_value != us.kind:
                problems.append(_("单位“%(name)s”（%(code)s）在系统中是%(kind)s，文件中的类别不同", name=us.name,
                                  code=us.code, kind=unit.kind_label))
                continue
            unit.name, unit.aliases = us.name, sorted(set(unit.aliases or []) | set(us.aliases))
        by_name[us.name] = unit
    if problems:
        raise PlanFileError(source, problems)
    db.session.flush()
    resolved: dict[str, Unit] = {}
    for us in spec.units:
        unit = existing[us.code]
        resolved[us.name] = unit
        for alias in us.aliases:
            resolved.setdefault(alias, unit)
    return resolved


def _expand(names: list[str], spec: PlanSpec, units: dict[str, Unit]) -> list[Unit]:
    """Responsible-unit names (and group phrases) → units, in order, without repeats."""
    lists: dict[str, list[Unit]] = {}
    for us in spec.units:
        lists.setdefault(us.group_list, []).append(units[us.name])
    out: list[Unit] = []
    for name in names:
        for unit in lists.get(spec.unit_groups[name], []) if name in spec.unit_groups else [units[name]]:
            if unit not in out:
                out.append(unit)
    return out


def _sync_schedule(plan: Plan, spec: PlanSpec, units: dict[str, Unit]) -> None:
    current = {t.unit_id: t for t in plan.schedule}
    wanted = {units[name].id: year for name, year in spec.schedule.items()}
    for unit_id, target in list(current.items()):
        if unit_id not in wanted:
            plan.schedule.remove(target)
    for unit_id, year in wanted.items():
        target = current.get(unit_id) or CountyTarget(unit_id=unit_id, target_year=year)
        target.target_year, target.sample = year, spec.schedule_sample
        if unit_id not in current:
            plan.schedule.append(target)


def _sync_sections(plan: Plan, spec: PlanSpec, units: dict[str, Unit], source: str) -> dict[str, tuple[Measure, list[str]]]:
    sections = {s.number: s for s in plan.sections}
    measures = {m.number: m for m in db.session.scalars(select(Measure).where(Measure.plan_id == plan.id))}
    wanted_numbers = {m.number for m in spec.measures}
    gone = [m for number, m in measures.items() if number not in wanted_numbers]
    if gone:
        busy = set(db.session.scalars(select(Task.measure_id).join(TaskEvent, TaskEvent.task_id == Task.id)
                                      .where(Task.measure_id.in_([m.id for m in gone]))))
        if busy:
            names = _("、").join(f"（{m.number}）" for m in gone if m.id in busy)  # i18n: data (numbered as in the plan)
            raise PlanFileError(source, [_("措施%(numbers)s已有任务办理记录，不能从方案中删除；如需停止请由管理员撤销相关任务",
                                           numbers=names)])
        for m in gone:
            db.session.delete(m)
    out: dict[str, tuple[Measure, list[str]]] = {}
    for position, ss in enumerate(spec.sections, start=1):
        section = sections.pop(ss.number, None) or Section(plan=plan, number=ss.number, position=position, title=ss.title)
        section.position, section.title, section.extra = position, ss.title, ss.extra
        db.session.add(section)
        db.session.flush()
        for mpos, ms in enumerate(ss.measures, start=1):
            measure = measures.get(ms.number) or Measure(plan_id=plan.id, number=ms.number, position=mpos, title=ms.title)
            measure.section_id, measure.position, measure.title, measure.text = section.id, mpos, ms.title, ms.text
            measure.deadline, measure.indicators, measure.extra = ms.deadline, list(ms.indicators), ms.extra
            measure.groups = [n for n in ms.units if n in spec.unit_groups]
            db.session.add(measure)
            db.session.flush()
            _sync_links(measure, ms, spec, units)
            out[ms.number] = (measure, ms.units)
    for leftover in sections.values():
        db.session.delete(leftover)
    db.session.flush()
    return out


def _sync_links(measure: Measure, ms: MeasureSpec, spec: PlanSpec, units: dict[str, Unit]) -> None:
    """Keep link rows per unit (updating order and lead flag) so the unique key never clashes."""
    current = {link.unit_id: link for link in measure.unit_links}
    links: list[MeasureUnit] = []
    for name in ms.units:
        for unit in _expand([name], spec, units):
            if any(link.unit_id == unit.id for link in links):
                continue
            link = current.pop(unit.id, None) or MeasureUnit(unit_id=unit.id)
            link.position, link.is_lead = len(links), name == ms.units[0]
            link.via_group = name if name in spec.unit_groups else None
            links.append(link)
    for stale in current.values():
        measure.unit_links.remove(stale)
    db.session.flush()
    measure.unit_links = links


def default_deadline(unit: Unit, measure_spec_deadline: date | None, schedule: dict[int, int], today: date) -> tuple[date, str]:
    """A county's task is due at the end of its target year; a department's at the end of this year."""
    if measure_spec_deadline:
        return measure_spec_deadline, "plan"
    if unit.kind_value == "county" and unit.id in schedule:
        return date(schedule[unit.id], 12, 31), "default"
    return date(today.year, 12, 31), "default"


def _sync_tasks(plan: Plan, spec: PlanSpec, measures: dict[str, tuple[Measure, list[str]]], units: dict[str, Unit], today: date) -> dict:
    from tracker.tasks.operations import system_user

    schedule = {t.unit_id: t.target_year for t in plan.schedule}
    spec_by_number: dict[str, MeasureSpec] = {m.number: m for m in spec.measures}
    existing = {(t.measure_id, t.unit_id): t for t in db.session.scalars(
        select(Task).where(Task.plan_id == plan.id, Task.period == ""))}
    touched = set(db.session.scalars(select(TaskEvent.task_id).join(Task, Task.id == TaskEvent.task_id)
                                     .where(Task.plan_id == plan.id).distinct()))
    now = utcnow()
    start = plan.issued_on if plan.issued_on and plan.issued_on <= today else today
    created = updated = cancelled = 0
    wanted: set[tuple[int, int]] = set()
    for number, (measure, names) in measures.items():
        lead_units = set(u.id for u in _expand(names[:1], spec, units))
        for unit in _expand(names, spec, units):
            key = (measure.id, unit.id)
            wanted.add(key)
            deadline, source = default_deadline(unit, measure_deadline(spec_by_number[number]), schedule, today)
            task = existing.get(key)
            if task is None:
                db.session.add(Task(plan_id=plan.id, measure_id=measure.id, unit_id=unit.id, period="",
                                    start_date=min(start, deadline), deadline=deadline, deadline_source=source,
                                    is_lead=unit.id in lead_units, created_at=now, updated_at=now))
                created += 1
                continue
            changed = False
            if task.is_lead != (unit.id in lead_units):
                task.is_lead, changed = unit.id in lead_units, True
            if task.deadline_source != "manual" and task.deadline != deadline and task.status not in ("completed", "cancelled"):
                task.deadline, task.deadline_source, changed = deadline, source, True
            if task.status == "cancelled" and task.id in touched and _cancelled_by_import(task):
                task.status, changed = "assigned", True
            if changed:
                task.updated_at = now
                updated += 1
    actor = None
    for key, task in existing.items():
        if key in wanted or task.status == "cancelled":
            continue
        if task.id not in touched:
            db.session.delete(task)
        else:
            actor = actor or system_user()
            db.session.add(TaskEvent(task_id=task.id, actor_id=actor.id, event="cancel", from_status=task.status,
                                     to_status="cancelled", comment=IMPORT_CANCEL_NOTE, created_at=now))
            task.status, task.updated_at = "cancelled", now
        cancelled += 1
    db.session.flush()
    total = db.session.query(Task).filter(Task.plan_id == plan.id, Task.status != "cancelled").count()
    return {"tasks": total, "created": created, "updated": updated, "removed": cancelled}


IMPORT_CANCEL_NOTE = "方案修订：该单位不再承担此措施，任务撤销（办理记录保留）。"  # i18n: data (stored, compared later)


def _cancelled_by_import(task: Task) -> bool:
    last = db.session.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id)
                              .order_by(TaskEvent.id.desc()).limit(1)).first()
    return last is not None and last.comment == IMPORT_CANCEL_NOTE


def export_spec(plan: Plan) -> PlanSpec:
    """The PlanSpec of a stored plan: what an export writes and a re-import reads back."""
    extra = plan.extra or {}
    unit_lists: dict = extra.get("unit_lists") or {}
    unit_rows = db.session.scalars(select(Unit).where(Unit.code.in_(list(unit_lists)))).all()
    order = {code: i for i, code in enumerate(unit_lists)}
    unit_rows.sort(key=lambda u: order[u.code])
    schedule = {t.unit.name: t.target_year for t in plan.schedule}
    spec = PlanSpec(
        code=plan.code, title=plan.title, issuer=plan.issuer, doc_number=plan.doc_number, issued_on=plan.issued_on,
        preamble=plan.preamble, extra=dict(extra.get("extra") or {}),
        units=[UnitSpec(code=u.code, name=u.name, kind=u.kind_value, group_list=unit_lists[u.code], aliases=list(u.aliases or []))
               for u in unit_rows],
        unit_groups=dict(extra.get("unit_groups") or {}), unit_lists=list(extra.get("list_names") or []),
        default_units=list(extra.get("default_units") or []),
        schedule=dict(sorted(schedule.items(), key=lambda kv: order.get(_code_of(unit_rows, kv[0]), 0))),
        schedule_sample=bool(extra.get("schedule_sample")), schedule_note=extra.get("schedule_note") or "",
        milestones=[MilestoneSpec(due=m.due, min_share=m.min_share, text=m.text, extra=dict(m.extra or {}))
                    for m in plan.milestones],
    )
    for section in plan.sections:
        ss = SectionSpec(number=section.number, title=section.title, measures=[], extra=dict(section.extra or {}))
        for measure in section.measures:
            ss.measures.append(MeasureSpec(
                number=measure.number, title=measure.title, text=measure.text, units=_listed_names(measure),
                deadline=measure.deadline, indicators=list(measure.indicators or []), extra=dict(measure.extra or {})))
        spec.sections.append(ss)
    return spec


def _code_of(units: list[Unit], name: str) -> str:
    return next((u.code for u in units if u.name == name), "")


def _listed_names(measure: Measure) -> list[str]:
    """The 责任单位 list as the plan wrote it: unit names, with a group phrase standing for its units."""
    names: list[str] = []
    for link in measure.unit_links:
        name = link.via_group or link.unit.name
        if name not in names:
            names.append(name)
    return names
