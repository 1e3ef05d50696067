"""Indicator operations used by the pages, the CLI and the demo alike.

`evaluate` loads a county's school rows for a year in ONE query and its county entries in another,
runs the engine, stores the result (recomputed in place) and applies what the result means for the
county's linked tasks (`record_evaluation`): a 可以办结 notice when the linked indicators now pass,
and on slippage (滑坡) the completed linked tasks are reopened through the lifecycle machine and the
county is flagged for supervisors. Operations flush, never commit.
"""
from __future__ import annotations

import math
import re
from typing import Any, BinaryIO, Iterable

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import exists, func, select
from sqlalchemy.orm import contains_eager, selectinload

from tracker.clock import today, utcnow
from tracker.errors import Conflict, Forbidden, Invalid
from tracker.extensions import db
from tracker.indicators import links, store
from tracker.indicators.catalog import Catalog, Indicator
from tracker.indicators.engine import SchoolYearData, evaluate_county
from tracker.indicators.models import (CountyEntry, CountyEntryFile, CountyEvaluation, CountyFlag, School,
                                       SchoolDataImport, SchoolYear)
from tracker.indicators.schooldata import import_school_data
from tracker.indicators.store import LEVEL_LABELS
from tracker.notices.outbox import enqueue, insert_ignore, users_of_unit, users_with_role
from tracker.plans.models import Measure, Section
from tracker.tasks.models import Evidence, Task
from tracker.units.models import Unit

OVERSEERS = ("admin", "leadership", "supervisor")
#: tasks that can still be finished: they hear 可以办结 when their indicators pass
READY_STATES = ("assigned", "in_progress", "returned", "submitted")
SLIPPAGE = "slippage"


# ── counties and who may see them ───────────────────────────────────────────────────────────
def find_county(ident: str) -> Unit:
    """A county by administrative code, name or alias (禄丰县 → 禄丰市)."""
    ident = (ident or "").strip()
    unit = db.session.scalar(select(Unit).where(Unit.kind == "county", (Unit.code == ident) | (Unit.name == ident)))
    if unit is None:
        unit = next((u for u in db.session.scalars(select(Unit).where(Unit.kind == "county"))
                     if ident in (u.aliases or [])), None)
    if unit is None:
        raise LookupError(_("找不到县市“%(name)s”（可用行政区划代码、名称或曾用名）", name=ident))
    return unit


def can_view_county(user, unit: Unit) -> bool:
    """Overseers see every county; a county's own unit user sees only that county."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.has_role(*OVERSEERS):
        return True
    return user.has_role("unit") and user.unit_id == unit.id


def can_act_for_county(user, unit: Unit) -> bool:
    """Enter county-level values and trigger an evaluation: admin, supervisor, or the county's own user."""
    if user is None:
        return True  # the command line acts as the administrator
    return user.has_role("admin", "supervisor") or (user.has_role("unit") and user.unit_id == unit.id)


def _require_county(unit: Unit) -> None:
    if unit.kind_value != "county":
        raise Invalid(_("“%(name)s”不是县市，没有县域评估。", name=unit.name))


def check_year(year: Any) -> int:
    try:
        value = int(year)
    except (TypeError, ValueError):
        raise Invalid(_("年度应为四位数字，如 2025。")) from None
    if not 2000 <= value <= today().year + 1:
        raise Invalid(_("年度应在 2000–%(latest)s 之间。", latest=today().year + 1))
    return value


# ── loading a county-year ───────────────────────────────────────────────────────────────────
SCHOOL_FIELDS = ("primary_pupils", "junior_pupils", "qualified_teachers", "backbone_teachers", "pe_art_teachers",
                 "building_area", "sports_area", "equipment_value", "multimedia_rooms", "class_count",
                 "max_class_size", "senior_pupils", "max_class_size_primary", "max_class_size_junior")


def school_rows(unit: Unit, year: int) -> list[SchoolYearData]:
    """The county's schools for the year as engine rows — one query, however many schools."""
    cols = [getattr(SchoolYear, f) for f in SCHOOL_FIELDS]
    stmt = (select(School.code, SchoolYear.name, SchoolYear.school_type, *cols)
            .join(School, School.id == SchoolYear.school_id)
            .where(SchoolYear.unit_id == unit.id, SchoolYear.year == year).order_by(School.code))
    return [SchoolYearData(code=r.code, name=r.name, county=unit.name, school_type=r.school_type,
                           **{f: getattr(r, f) for f in SCHOOL_FIELDS})
            for r in db.session.execute(stmt)]


def county_entries(unit: Unit, year: int) -> dict[str, Any]:
    return dict(db.session.execute(select(CountyEntry.code, CountyEntry.value)
                                   .where(CountyEntry.unit_id == unit.id, CountyEntry.year == year)).all())


def evaluation_entries(unit: Unit, year: int, catalog: Catalog) -> dict[str, Any]:
    """The county entries the engine reads: those of county-scope indicators in the catalog."""
    return {k: v for k, v in county_entries(unit, year).items()
            if k in catalog.by_code and catalog.by_code[k].scope == "county"}


def has_school_data(unit: Unit, year: int) -> bool:
    return bool(db.session.scalar(select(exists().where(SchoolYear.unit_id == unit.id, SchoolYear.year == year))))


def is_sample(unit: Unit, year: int) -> bool:
    """Whether the county-year's school rows came from the generated sample dataset (示例数据)."""
    return bool(db.session.scalar(select(exists().where(
        SchoolYear.unit_id == unit.id, SchoolYear.year == year, SchoolYear.import_id == SchoolDataImport.id,
        SchoolDataImport.sample.is_(True)))))


# ── evaluation ──────────────────────────────────────────────────────────────────────────────
def evaluate(unit: Unit, year: Any, actor=None, *, catalog: Catalog | None = None) -> CountyEvaluation:
    """Evaluate a county for a year, store the result and apply it to linked tasks; returns the stored row.

    What it did to tasks (notices, reopened tasks, flag) is on `row.effects`.
    """
    _require_county(unit)
    year = check_year(year)
    if not can_act_for_county(actor, unit):
        raise Forbidden(_("只有系统管理员、督学或本县市经办人可以重新评估。"))
    schools = school_rows(unit, year)
    if not schools:
        raise Invalid(_("%(county)s%(year)s年尚无学校数据，请先导入学校数据。", county=unit.name, year=year))
    catalog = catalog or store.current_catalog()
    entries = evaluation_entries(unit, year, catalog)
    try:
        result = evaluate_county(unit.name, year, schools, entries, catalog)
    except ValueError as exc:
        raise Invalid(_("%(county)s%(year)s年的数据无法评估：%(error)s", county=unit.name, year=year, error=exc)) from None
    row, effects = record_evaluation(unit, year, result, store.catalog_revision())
    row.effects = effects
    return row


def evaluate_all(year: Any, actor=None, *, catalog: Catalog | None = None, unit_ids=None) -> dict[str, Any]:
    """Every county with school data for the year evaluated at once, with the same stored results and
    effects as `evaluate` county by county, in a fixed number of statements (tracker/indicators/bulk.py)."""
    from tracker.indicators.bulk import evaluate_all as run

    return run(year, actor, catalog=catalog, unit_ids=unit_ids)


def reevaluate_all(year: int | None = None) -> dict[str, Any]:
    """The nightly job: every county of `year` (default: the latest year with school data) evaluated again."""
    if year is None:
        year = db.session.scalar(select(func.max(SchoolYear.year)))
        if year is None:
            return {"year": None, "counties": 0}
    summary = evaluate_all(year)
    summary.pop("results")  # the job's record stays small: counts, the first errors
    summary["without_data"] = len(summary["without_data"])
    summary["errors"] = summary["errors"][:20]
    return summary


def record_evaluation(unit: Unit, year: int, result: dict, revision: int = 0) -> tuple[CountyEvaluation, dict]:
    """Store the result; if it is the county's latest year, tell or reopen its linked tasks.

    - 可以办结: each measure whose linked indicators pass now → its open tasks' unit users and every
      supervisor get one notice (key: unit, year, measure — evaluating again sends nothing new).
    - 滑坡: a measure whose linked indicators passed before (in the replaced result of the same year or
      in the latest earlier year) and now explicitly fail (missing data is not a slip) → its completed
      tasks are reopened by the system user through the lifecycle (one audit row each). When that
      happens, or the overall verdict slips, the county gets one CountyFlag(kind='slippage', year)
      and supervisors a notice.
    An older year recomputed while a later one is stored changes nothing but its own row.
    """
    later = db.session.scalar(select(func.count()).select_from(CountyEvaluation)
                              .where(CountyEvaluation.unit_id == unit.id, CountyEvaluation.year > year))
    earlier = db.session.execute(select(CountyEvaluation.year, CountyEvaluation.result)
                                 .where(CountyEvaluation.unit_id == unit.id, CountyEvaluation.year < year)
                                 .order_by(CountyEvaluation.year.desc()).limit(1)).first()
    row, same_year = store.save_evaluation(unit.id, year, result, revision)
    effects: dict[str, Any] = {"latest": not later, "ready": [], "reopened": [], "flag": None, "notices": 0}
    if later:
        return row, effects
    baselines = [(year, same_year)] if same_year else []
    if earlier is not None:
        baselines.append((earlier.year, earlier.result))

    tasks = db.session.scalars(
        select(Task).join(Task.measure).join(Measure.section).options(contains_eager(Task.measure))
        .where(Task.unit_id == unit.id, Task.status.in_(READY_STATES + ("completed",)))
        .order_by(Measure.plan_id, Section.position, Measure.position, Task.id)).unique().all()
    by_measure: dict[int, list[Task]] = {}
    for task in tasks:
        if task.measure.indicators:
            by_measure.setdefault(task.measure_id, []).append(task)
    recipients: list[int] | None = None
    slipped: list[dict] = []
    for measure_tasks in by_measure.values():
        measure = measure_tasks[0].measure
        codes = list(measure.indicators)
        now = links.codes_verdict(result, codes)
        if now is True:
            ready = [t for t in measure_tasks if t.status in READY_STATES]
            if not ready:
                continue
            if recipients is None:
                recipients = users_of_unit(unit.id) + users_with_role("supervisor")
            effects["notices"] += enqueue(recipients, **ready_notice(unit, year, measure, codes, ready[0].id))
            effects["ready"].append({"measure": measure.number, "tasks": [t.id for t in ready]})
        elif now is False:
            before = next(((y, r) for y, r in baselines if links.codes_verdict(r, codes) is True), None)
            if before is None:
                continue
            failing = [c for c, v in links.codes_verdicts(result, codes).items() if v is False]
            reopened = _reopen([t for t in measure_tasks if t.status == "completed"], unit, year, before[0], failing)
            effects["reopened"].extend(reopened)
            slipped.append({"measure": measure.number, "measure_title": measure.title, "codes": codes,
                            "failing": failing, "passed_in": before[0], "reopened_tasks": reopened})
    overall_before = next((y for y, r in baselines if r.get("pass") is True), None)
    overall_slip = overall_before is not None and result["pass"] is not True and bool(result.get("assessable"))
    if slipped or overall_slip:
        effects["flag"] = _flag_slippage(unit, year, result, overall_before, slipped)
    return row, effects


def _reopen(tasks: list[Task], unit: Unit, year: int, passed_in: int, failing: list[str]) -> list[int]:
    if not tasks:
        return []
    from tracker.tasks.operations import fire, system_user

    system = system_user()
    comment = reopen_comment(unit, year, passed_in, failing)
    done = []
    for task in tasks:
        fire(task, "reopen", system, comment=comment)
        done.append(task.id)
    return done


def ready_notice(unit, year: int, measure: Measure, codes: list[str], task_id: int) -> dict[str, Any]:
    """The 可以办结 notice of a measure whose linked indicators now pass (keyword arguments of `enqueue`)."""
    return dict(
        kind="indicators_ready", key=f"indicators_ready:unit={unit.id}:year={year}:measure={measure.id}",
        subject=_("【可以办结】%(measure)s · %(county)s", measure=measure.label, county=unit.name),
        body=_("%(county)s%(year)s年督导评估中，本措施关联的指标（%(codes)s）已全部达标，可以附上评估结果作为佐证，报送办结。",
               county=unit.name, year=year, codes=_("、").join(codes)),
        link=_link("indicators.task_panel", task_id=task_id), task_id=task_id,
        data={"unit_id": unit.id, "year": year, "measure_id": measure.id, "codes": codes})


def reopen_comment(unit, year: int, passed_in: int, failing: list[str]) -> str:
    """The reason recorded on a task reopened because its linked indicators slipped."""
    return _("指标滑坡：%(county)s%(year)s年督导评估中关联指标%(codes)s未达标（%(passed_in)s年评估时已达标），任务重新打开。",
             county=unit.name, year=year, codes=_("、").join(failing), passed_in=passed_in)


def slippage_detail(year: int, result: dict, overall_before: int | None, slipped: list[dict]) -> dict[str, Any]:
    """What a slippage CountyFlag records."""
    return {
        "year": year, "overall_passed_in": overall_before, "overall_pass": result["pass"] is True,
        "aspects": {a: body.get("pass") for a, body in result.get("aspects", {}).items()},
        "measures": slipped, "reopened_tasks": [t for m in slipped for t in m["reopened_tasks"]],
    }


def slippage_notice(unit, year: int, slipped: list[dict], flag_id: int) -> dict[str, Any]:
    """The supervisors' 滑坡 notice (keyword arguments of `enqueue`)."""
    what = _("、").join(_("（%(number)s）%(title)s", number=m["measure"], title=m["measure_title"])
                        for m in slipped) or _("县域整体评估结论")
    return dict(kind="slippage", key=f"slippage:unit={unit.id}:year={year}",
                subject=_("【滑坡】%(county)s%(year)s年督导评估出现滑坡", county=unit.name, year=year),
                body=_("%(county)s%(year)s年评估未达标，此前已达标的内容出现滑坡：%(what)s。请跟进（约谈、整改）。",
                       county=unit.name, year=year, what=what),
                link=_link("indicators.county_year", code=unit.code, year=year), data={"flag_id": flag_id})


def _flag_slippage(unit: Unit, year: int, result: dict, overall_before: int | None, slipped: list[dict]) -> int:
    detail = slippage_detail(year, result, overall_before, slipped)
    flag = db.session.scalar(select(CountyFlag).where(CountyFlag.unit_id == unit.id, CountyFlag.kind == SLIPPAGE,
                                                      CountyFlag.year == year))
    if flag is None:
        # ON CONFLICT DO NOTHING: an evaluation of the same county-year running at the same time may insert it first
        added = db.session.execute(insert_ignore(CountyFlag.__table__).values(
            unit_id=unit.id, kind=SLIPPAGE, year=year, detail=detail, created_at=utcnow())).rowcount
        flag = db.session.scalar(select(CountyFlag).where(CountyFlag.unit_id == unit.id, CountyFlag.kind == SLIPPAGE,
                                                          CountyFlag.year == year))
        if not added and flag.resolved_at is None:
            detail["reopened_tasks"] = sorted(set(flag.detail.get("reopened_tasks", [])) | set(detail["reopened_tasks"]))
            flag.detail = detail
    elif flag.resolved_at is None:
        detail["reopened_tasks"] = sorted(set(flag.detail.get("reopened_tasks", [])) | set(detail["reopened_tasks"]))
        flag.detail = detail
    db.session.flush()
    enqueue(users_with_role("supervisor"), **slippage_notice(unit, year, slipped, flag.id))
    return flag.id


def _link(endpoint: str, **values) -> str:
    try:
        return url_for(endpoint, _external=True, **values)
    except RuntimeError:  # no request and no SERVER_NAME (command line): the configured base URL
        base = (current_app.config.get("BASE_URL") or "").rstrip("/")
        if endpoint == "indicators.task_panel":
            return f"{base}/indicators/tasks/{values['task_id']}"
        return f"{base}/indicators/counties/{values.get('code')}/{values.get('year')}"


# ── county-level entries ────────────────────────────────────────────────────────────────────
TRUE_WORDS = {"true", "1", "是", "yes", "y", "有", "达标", "符合", "已达标", "发生"}  # i18n: data
FALSE_WORDS = {"false", "0", "否", "no", "n", "无", "未达标", "不符合", "未发生"}  # i18n: data
#: (lowest, highest, whole numbers only) by the indicator's unit; codes may override
RANGES_BY_UNIT = {"%": (0, 100, False), "级": (1, 4, True), "比率": (0, 1, False)}  # i18n: data
RANGE_OVERRIDES = {"G8": (0, 500, False)}  # teachers may earn more than civil servants: over 100 %
LEVEL_WORDS = {"primary": "primary", "小学": "primary", "junior": "junior", "初中": "junior"}  # i18n: data


def entry_range(ind: Indicator) -> tuple[float, float | None, bool]:
    return RANGE_OVERRIDES.get(ind.code) or RANGES_BY_UNIT.get(ind.unit) or (0, None, False)


def _entry_number(ind: Indicator, raw: Any, label: str = "") -> float | int:
    if isinstance(raw, bool):
        raise Invalid(_("%(code)s%(label)s 应填写数值。", code=ind.code, label=label))
    if isinstance(raw, (int, float)):
        value = float(raw)
    else:
        text = str(raw).strip().replace(",", "").rstrip("%％")  # i18n: data
        try:
            value = float(text)
        except ValueError:
            raise Invalid(_("%(code)s%(label)s 应填写数值，收到“%(raw)s”。", code=ind.code, label=label, raw=raw)) from None
    if not math.isfinite(value):
        raise Invalid(_("%(code)s%(label)s 应填写数值。", code=ind.code, label=label))
    low, high, whole = entry_range(ind)
    if whole and not value.is_integer():
        raise Invalid(_("%(code)s%(label)s 应为整数。", code=ind.code, label=label))
    if value < low or (high is not None and value > high):
        span = f"{low}–{high}" if high is not None else _("不小于 %(low)s", low=low)
        raise Invalid(_("%(code)s%(label)s 超出范围（%(span)s %(unit)s），收到 %(raw)s。", code=ind.code, label=label,
                        span=span, unit=ind.unit, raw=raw))
    return int(value) if value.is_integer() else value


def parse_entry_value(ind: Indicator, raw: Any) -> Any:
    """A value as typed on a form or the command line → what the engine takes; Invalid if it does not fit."""
    if ind.comparison == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        raise Invalid(_("%(code)s 应填写“是”或“否”，收到“%(raw)s”。", code=ind.code, raw=raw))
    if not ind.per_level:
        return _entry_number(ind, raw)
    if isinstance(raw, dict):
        parts = raw
    elif re.search(r"[=:：]", str(raw)):  # i18n: data
        parts = {}
        for piece in filter(None, re.split(r"[,，;；\s]+", str(raw).strip())):  # i18n: data
            match = re.fullmatch(r"([^=:：]+)[=:：](.*)", piece)  # i18n: data
            if match is None:
                raise Invalid(_("%(code)s 应写成“小学=100,初中=95”，收到“%(raw)s”。", code=ind.code, raw=raw))
            parts[match[1].strip()] = match[2].strip()
    else:
        parts = {lvl: raw for lvl in ind.thresholds}
    out = {}
    for key, val in parts.items():
        lvl = LEVEL_WORDS.get(str(key).strip().lower())
        if lvl is None or lvl not in ind.thresholds:
            raise Invalid(_("%(code)s 的学段应为 小学/初中（primary/junior），收到“%(key)s”。", code=ind.code, key=key))
        out[lvl] = _entry_number(ind, val, _("（%(level)s）", level=LEVEL_LABELS[lvl]))
    missing = [LEVEL_LABELS[lvl] for lvl in ind.thresholds if lvl not in out]
    if missing:
        raise Invalid(_("%(code)s 还需填写：%(levels)s。", code=ind.code, levels=_("、").join(missing)))
    return out


def enterable(catalog: Catalog) -> list[Indicator]:
    """Indicators entered per county (not R1–R7, not G4/G5 which come from the school rows)."""
    return [i for i in catalog.indicators if i.aspect != "resource" and i.scope == "county"]


def set_entry(unit: Unit, year: Any, code: str, raw: Any, note: str = "", actor=None,
              files: Iterable[tuple[BinaryIO, str]] = (), *, evaluate_after: bool = True,
              catalog: Catalog | None = None) -> dict:
    """Enter (or change) one county-level value with optional evidence files; re-evaluates when school data exist.

    A blank value keeps the value already entered (to add a file or a note).
    """
    from tracker.tasks import evidence as evidence_store

    _require_county(unit)
    year = check_year(year)
    if not can_act_for_county(actor, unit):
        raise Forbidden(_("只有系统管理员、督学或%(county)s的经办人可以填报%(county)s的指标。", county=unit.name))
    catalog = catalog or store.current_catalog()
    ind = catalog.by_code.get((code or "").strip())
    if ind is None:
        raise Invalid(_("没有指标“%(code)s”。", code=code))
    if ind.aspect == "resource" or ind.scope != "county":
        raise Invalid(_("%(code)s 由学校数据计算，不能填报。", code=ind.code))
    entry = db.session.scalar(select(CountyEntry).where(CountyEntry.unit_id == unit.id, CountyEntry.year == year,
                                                        CountyEntry.code == ind.code))
    blank = raw is None or (isinstance(raw, str) and not raw.strip()) or (
        isinstance(raw, dict) and all(v in (None, "") for v in raw.values()))
    if blank and entry is None:
        raise Invalid(_("请填写 %(code)s %(name)s 的数值。", code=ind.code, name=ind.name))
    value = None if blank else parse_entry_value(ind, raw)
    now = utcnow()
    if entry is None:
        entry = CountyEntry(unit_id=unit.id, year=year, code=ind.code, note="")
        db.session.add(entry)
    if value is not None:
        entry.value = value
    if note and note.strip():
        entry.note = note.strip()[:2000]
    entry.entered_by_id, entry.updated_at = getattr(actor, "id", None), now
    db.session.flush()
    have = {f.sha256 for f in entry.files}
    for stream, filename in files:
        received = evidence_store.store_upload(stream, filename)
        if received.sha256 not in have:
            entry.files.append(CountyEntryFile(sha256=received.sha256, filename=received.filename,
                                               uploader_id=getattr(actor, "id", None), created_at=now))
            have.add(received.sha256)
    db.session.flush()
    evaluation = None
    if evaluate_after and has_school_data(unit, year):
        evaluation = evaluate(unit, year, actor, catalog=catalog)
    return {"entry": entry, "evaluation": evaluation}


def entries_with_files(unit: Unit, year: int) -> dict[str, CountyEntry]:
    return {e.code: e for e in db.session.scalars(
        select(CountyEntry).where(CountyEntry.unit_id == unit.id, CountyEntry.year == year)
        .options(selectinload(CountyEntry.files)))}


# ── school data import ──────────────────────────────────────────────────────────────────────
def import_schools(data: bytes, filename: str, year: Any, actor=None, *, evaluate_after: bool = False,
                   sample: bool = False) -> dict:
    """Import a school data file (all or nothing) and, if asked, evaluate every county it touched."""
    result = import_school_data(data, filename, year, actor, sample=sample)
    unit_ids = result.pop("unit_ids")
    if evaluate_after:
        catalog = store.current_catalog()
        result["evaluations"] = []
        for unit in db.session.scalars(select(Unit).where(Unit.id.in_(unit_ids)).order_by(Unit.code)):
            row = evaluate(unit, result["year"], actor, catalog=catalog)
            result["evaluations"].append({"county": unit.name, "code": unit.code, "pass": row.passed,
                                          "assessable": row.assessable})
    return result


# ── the evaluation as evidence of a task ────────────────────────────────────────────────────
def task_indicator_status(task: Task) -> dict[str, Any]:
    """What the task page shows: the linked codes and their verdicts in the county's latest evaluation."""
    codes = list(task.measure.indicators or [])
    status: dict[str, Any] = {"codes": codes, "applies": bool(codes) and task.unit.kind_value == "county",
                              "evaluation": None, "verdicts": {}, "details": {}, "pass": None, "attached": False}
    if not status["applies"]:
        return status
    evaluation = store.latest_evaluation(task.unit_id)
    if evaluation is None:
        return status
    verdicts = links.codes_verdicts(evaluation.result, codes)
    resource = [c for c in verdicts if links.RESOURCE_RE.fullmatch(c)]
    result = store.detailed(evaluation) if resource else evaluation.result  # the blocking schools by name
    status.update(evaluation=evaluation, verdicts=verdicts,
                  details={c: links.resource_code_detail(result, c) for c in resource})
    status["pass"] = links.combine(verdicts.values())
    status["attached"] = _attached(task, evaluation) is not None
    return status


def _summary(evaluation: CountyEvaluation, codes: list[str]) -> dict[str, Any]:
    result = evaluation.result
    verdicts = links.codes_verdicts(result, codes)
    return {
        "evaluation_id": evaluation.id, "unit_id": evaluation.unit_id, "county": result.get("county"),
        "year": evaluation.year, "computed_at": evaluation.computed_at.isoformat(),
        "catalog_version": evaluation.catalog_version, "pass": evaluation.passed, "assessable": evaluation.assessable,
        "resource_allocation_pass": result.get("resource_allocation_pass"),
        "aspects": {a: body.get("pass") for a, body in result.get("aspects", {}).items()},
        "indicators": verdicts,
        "cv": {c: {lvl: d["cv"] for lvl, d in links.resource_code_detail(result, c)["levels"].items()}
               for c in verdicts if links.RESOURCE_RE.fullmatch(c)},
    }


def _attached(task: Task, evaluation: CountyEvaluation) -> Evidence | None:
    stamp = evaluation.computed_at.isoformat()
    for item in db.session.scalars(select(Evidence).where(Evidence.task_id == task.id, Evidence.kind == "evaluation")):
        if item.data.get("evaluation_id") == evaluation.id and item.data.get("computed_at") == stamp:
            return item
    return None


def attach_evaluation(task: Task, actor) -> Evidence:
    """One click: attach the county's latest evaluation (linked indicators passing) as evidence of kind 'evaluation'."""
    from tracker.tasks.operations import _audit, flush_or_conflict
    from workflows import lifecycle

    if not (actor.has_role("unit") and actor.unit_id == task.unit_id):
        raise Forbidden(_("只有%(unit)s的经办人可以附上评估结果。", unit=task.unit.name))
    if task.status not in ("in_progress", "returned"):
        state = str(lifecycle.STATE_LABELS[task.status])
        raise Conflict(_("任务当前状态为“%(state)s”，不能添加佐证材料（请先签收）。", state=state) if task.status == "assigned"
                       else _("任务当前状态为“%(state)s”，不能添加佐证材料。", state=state))
    codes = list(task.measure.indicators or [])
    if not codes or task.unit.kind_value != "county":
        raise Conflict(_("本任务的措施没有关联县域评估指标。"))
    evaluation = store.latest_evaluation(task.unit_id)
    if evaluation is None:
        raise Conflict(_("%(unit)s尚无督导评估结果。", unit=task.unit.name))
    if links.codes_verdict(evaluation.result, codes) is not True:
        raise Conflict(_("%(unit)s%(year)s年评估中，本措施关联的指标尚未全部达标，不能作为办结佐证。", unit=task.unit.name,
                         year=evaluation.year))
    existing = _attached(task, evaluation)
    if existing is not None:
        return existing
    name = _("%(year)s年%(unit)s督导评估结果（关联指标 %(codes)s 达标）", year=evaluation.year, unit=task.unit.name,
             codes=_("、").join(codes))
    item = Evidence(task_id=task.id, uploader_id=actor.id, filename=name[:255], sha256=None, kind="evaluation",
                    note=_("系统根据%(year)s年评估结果生成", year=evaluation.year), data=_summary(evaluation, codes),
                    created_at=utcnow())
    db.session.add(item)
    _audit(task, actor, "evidence", comment=name, data={"evaluation_id": evaluation.id, "year": evaluation.year})
    flush_or_conflict()
    return item


def resolve_flag(flag: CountyFlag, actor) -> CountyFlag:
    if not actor.has_role("supervisor", "admin"):
        raise Forbidden(_("只有督学或系统管理员可以标记为已处理。"))
    if flag.resolved_at is None:
        flag.resolved_at, flag.resolved_by_id = utcnow(), actor.id
        db.session.flush()
    return flag
