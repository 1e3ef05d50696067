"""Where the indicator data live: the catalog as DB rows (the file is the fallback) and stored evaluations.

The catalog in the database is rebuilt into a `Catalog` through `Catalog.from_dict`, so an admin's edit
passes exactly the validation the shipped file does. Every change bumps the catalog revision, which
each stored evaluation records.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from tracker.clock import utcnow
from tracker.errors import Forbidden, Invalid
from tracker.extensions import db
from tracker.indicators.catalog import DEFAULT_PATH, Catalog, CatalogError, load_catalog
from tracker.indicators.models import CountyEvaluation, IndicatorDef, IndicatorSetting
from tracker.indicators.results import is_detailed, level_counts

ORIGIN = _l("指标目录")


# ── catalog ─────────────────────────────────────────────────────────────────────────────────
def _row_dict(row: IndicatorDef) -> dict[str, Any]:
    out: dict[str, Any] = {"code": row.code, "aspect": row.aspect, "name": row.name, "unit": row.unit,
                           "comparison": row.comparison, "scope": row.scope, "source": row.source}
    if row.threshold is not None:
        out["threshold"] = row.threshold
    if row.thresholds:
        out["thresholds"] = dict(row.thresholds)
    if row.cv_limit:
        out["cv_limit"] = dict(row.cv_limit)
    if row.group_code:
        out["group"] = row.group_code
    if row.params:
        out["params"] = dict(row.params)
    if row.uncertain:
        out["uncertain"] = True
    if row.note:
        out["note"] = row.note
    return out


def catalog_dict_from_db() -> dict[str, Any] | None:
    """The catalog as a plain dict from the DB rows, or None when it was never loaded into the DB."""
    rows = db.session.scalars(select(IndicatorDef).order_by(IndicatorDef.position)).all()
    if not rows:
        return None
    settings = {s.key: s.value for s in db.session.scalars(select(IndicatorSetting))}
    return {"version": settings.get("version", 1), "standard": settings.get("standard", ""),
            "rules": settings.get("rules"), "indicators": [_row_dict(r) for r in rows]}


_FILE_CACHE: dict[str, tuple[int, Catalog]] = {}


def file_catalog() -> Catalog:
    """data/indicators.yaml, parsed once per change of the file (a Catalog is immutable)."""
    stamp = DEFAULT_PATH.stat().st_mtime_ns
    cached = _FILE_CACHE.get("default")
    if cached is None or cached[0] != stamp:
        cached = _FILE_CACHE["default"] = (stamp, load_catalog(DEFAULT_PATH))
    return cached[1]


def current_catalog() -> Catalog:
    """The catalog the engine uses: the database's, else data/indicators.yaml."""
    data = catalog_dict_from_db()
    return file_catalog() if data is None else Catalog.from_dict(data, origin=ORIGIN)


def catalog_revision() -> int:
    row = db.session.get(IndicatorSetting, "revision")
    return int(row.value) if row is not None else 0


def catalog_state() -> dict[str, Any]:
    """For pages: the catalog, where it comes from ('db' or 'file') and its revision."""
    data = catalog_dict_from_db()
    if data is None:
        return {"catalog": file_catalog(), "source": "file", "revision": 0}
    return {"catalog": Catalog.from_dict(data, origin=ORIGIN), "source": "db", "revision": catalog_revision()}


def _set(key: str, value: Any, now) -> None:
    row = db.session.get(IndicatorSetting, key) or IndicatorSetting(key=key)
    row.value, row.updated_at = value, now
    db.session.add(row)


def save_catalog(catalog: Catalog, actor=None) -> int:
    """Write a validated catalog into the tables (upsert by code, drop codes it no longer has); returns the revision."""
    data = catalog.to_dict()
    now = utcnow()
    existing = {r.code: r for r in db.session.scalars(select(IndicatorDef))}
    for position, item in enumerate(data["indicators"], start=1):
        row = existing.pop(item["code"], None) or IndicatorDef(code=item["code"])
        values = {
            "position": position, "aspect": item["aspect"], "name": item["name"], "unit": item["unit"],
            "comparison": item["comparison"], "scope": item.get("scope", "county"), "group_code": item.get("group"),
            "threshold": item.get("threshold"), "thresholds": item.get("thresholds", {}),
            "cv_limit": item.get("cv_limit", {}), "params": item.get("params", {}), "source": item["source"],
            "note": item.get("note", ""), "uncertain": bool(item.get("uncertain", False)),
        }
        if row.id is None or any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at, row.updated_by_id = now, getattr(actor, "id", None)
        db.session.add(row)
    if existing:
        db.session.execute(delete(IndicatorDef).where(IndicatorDef.code.in_(list(existing))))
    _set("rules", data["rules"], now)
    _set("standard", data["standard"], now)
    _set("version", data["version"], now)
    revision = catalog_revision() + 1
    _set("revision", revision, now)
    db.session.flush()
    return revision


def load_catalog_into_db(path=None, actor=None) -> dict[str, Any]:
    """`flask indicators load-catalog`: replace the DB catalog with the file's (admin edits are overwritten)."""
    try:
        catalog = load_catalog(path)
    except (CatalogError, OSError) as exc:
        raise Invalid(_("指标目录文件有误：%(error)s", error=exc)) from None
    revision = save_catalog(catalog, actor)
    return {"indicators": len(catalog.indicators), "version": catalog.version, "revision": revision,
            "uncertain": [i.code for i in catalog.indicators if i.uncertain] + [f"rules.{u}" for u in catalog.rules.uncertain]}


def _editable(actor) -> None:
    if actor is not None and not actor.has_role("admin"):
        raise Forbidden(_("只有系统管理员可以修改指标目录。"))


def _validated(data: dict[str, Any]) -> Catalog:
    try:
        return Catalog.from_dict(data, origin=ORIGIN)
    except CatalogError as exc:
        raise Invalid(_("修改未保存：指标目录校验未通过（%(error)s）", error=exc)) from None


def _base_dict() -> dict[str, Any]:
    return catalog_dict_from_db() or file_catalog().to_dict()


INDICATOR_FIELDS = ("threshold", "thresholds", "cv_limit", "note", "uncertain")


def update_indicator(code: str, changes: dict[str, Any], actor=None) -> Catalog:
    """Change one indicator's threshold(s), CV limit, note or uncertain flag; the whole catalog is re-validated."""
    _editable(actor)
    unknown = sorted(set(changes) - set(INDICATOR_FIELDS))
    if unknown:
        raise Invalid(_("不能修改字段：%(fields)s", fields=", ".join(unknown)))
    data = _base_dict()
    item = next((i for i in data["indicators"] if i["code"] == code), None)
    if item is None:
        raise Invalid(_("没有指标“%(code)s”。", code=code))
    for key, value in changes.items():
        item[key] = {**item.get(key, {}), **value} if key in ("thresholds", "cv_limit") else value
    catalog = _validated(data)
    ind = catalog.by_code[code]
    if any(v < 0 for v in ([ind.threshold] if ind.threshold is not None else []) + list(ind.thresholds.values())):
        raise Invalid(_("修改未保存：%(code)s 的标准值不能为负数。", code=code))
    save_catalog(catalog, actor)
    return catalog


RULE_FIELDS = ("min_met", "floor_ratio")


def update_rules(changes: dict[str, Any], actor=None) -> Catalog:
    """Change the resource-allocation rules (达标项数 min_met, 最低比例 floor_ratio)."""
    _editable(actor)
    unknown = sorted(set(changes) - set(RULE_FIELDS))
    if unknown:
        raise Invalid(_("不能修改规则字段：%(fields)s", fields=", ".join(unknown)))
    data = _base_dict()
    data["rules"] = {**data["rules"], **changes}
    catalog = _validated(data)
    save_catalog(catalog, actor)
    return catalog


# ── evaluations ─────────────────────────────────────────────────────────────────────────────
def get_evaluation(unit_id: int, year: int) -> CountyEvaluation | None:
    return db.session.scalar(select(CountyEvaluation).where(CountyEvaluation.unit_id == unit_id,
                                                            CountyEvaluation.year == year))


def latest_evaluation(unit_id: int) -> CountyEvaluation | None:
    """The county's evaluation of its latest evaluated year."""
    return db.session.scalar(select(CountyEvaluation).where(CountyEvaluation.unit_id == unit_id)
                             .order_by(CountyEvaluation.year.desc()).limit(1))


def detailed(evaluation: CountyEvaluation | None) -> dict | None:
    """The evaluation's result with its school detail (every school's values, the gap list).

    A compact result (stored by `evaluate_all`, see results.py) is completed by running the engine on the
    county's school rows and entries of that year — the data the evaluation read, since importing school
    data or changing an entry evaluates the county again. Should they no longer evaluate, the stored result
    is returned as it is.
    """
    if evaluation is None or is_detailed(evaluation.result) or not evaluation.result:
        return evaluation.result if evaluation is not None else None
    from tracker.indicators.engine import evaluate_county
    from tracker.indicators.operations import evaluation_entries, school_rows
    from tracker.units.models import Unit

    unit = db.session.get(Unit, evaluation.unit_id)
    catalog = current_catalog()
    try:
        return evaluate_county(unit.name, evaluation.year, school_rows(unit, evaluation.year),
                               evaluation_entries(unit, evaluation.year, catalog), catalog)
    except ValueError:
        return evaluation.result


def evaluations_of(unit_id: int) -> list[CountyEvaluation]:
    """Every stored evaluation of a county, oldest year first (one query)."""
    return list(db.session.scalars(select(CountyEvaluation).where(CountyEvaluation.unit_id == unit_id)
                                   .order_by(CountyEvaluation.year)))


def evaluation_values(result: dict, revision: int) -> dict[str, Any]:
    """The stored columns of an evaluation besides unit and year."""
    return {"result": result, "passed": result["pass"] is True, "assessable": bool(result.get("assessable")),
            "catalog_version": revision, "computed_at": utcnow()}


def upsert_evaluation_stmt():
    """``INSERT … ON CONFLICT (unit_id, year) DO UPDATE`` of county_evaluations for the session's dialect."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(CountyEvaluation.__table__)
    return stmt.on_conflict_do_update(index_elements=["unit_id", "year"], set_={
        c: stmt.excluded[c] for c in ("result", "passed", "assessable", "catalog_version", "computed_at")})


def save_evaluation(unit_id: int, year: int, result: dict, revision: int) -> tuple[CountyEvaluation, dict | None]:
    """Insert or recompute in place; returns the row and the result it replaced (None if new).

    A new row goes in with ``INSERT … ON CONFLICT DO UPDATE``: two evaluations of the same county-year
    running at the same time both see no row, and the second then recomputes the first one's row in
    place instead of failing on the unique key (unit_id, year).
    """
    row = get_evaluation(unit_id, year)
    values = evaluation_values(result, revision)
    if row is not None:
        previous = row.result
        for key, value in values.items():
            setattr(row, key, value)
        db.session.flush()
        return row, previous
    db.session.execute(upsert_evaluation_stmt().values(unit_id=unit_id, year=year, **values))
    row = db.session.scalar(select(CountyEvaluation).where(CountyEvaluation.unit_id == unit_id,
                                                           CountyEvaluation.year == year)
                            .execution_options(populate_existing=True))
    return row, None


# ── reading for pages ───────────────────────────────────────────────────────────────────────
class Labels(Mapping):
    """code → label, translated each time it is read (a plain ``str``: safe to join, compare and serialise)."""

    def __init__(self, labels: dict[str, Any]):
        self._labels = labels

    def __getitem__(self, key: str) -> str:
        return str(self._labels[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)


LEVEL_LABELS = Labels({"primary": _l("小学"), "junior": _l("初中")})
ASPECT_LABELS = Labels({"resource": _l("资源配置"), "guarantee": _l("政府保障程度"), "quality": _l("教育质量"),
                        "recognition": _l("社会认可度"), "veto": _l("一票否决")})
#: school types (the keys are data: stored, imported and used as threshold keys) as the reader sees them
SCHOOL_TYPE_LABELS = Labels({
    "小学": _l("小学"), "初中": _l("初中"), "九年一贯制": _l("九年一贯制"),  # i18n: data
    "完全中学": _l("完全中学"), "十二年一贯制": _l("十二年一贯制"), "教学点": _l("教学点"),  # i18n: data
    "特殊教育": _l("特殊教育"), "职业学校": _l("职业学校"),  # i18n: data
})


def key_label(key: str) -> str:
    """A school level (primary, junior) or a school type in the reader's language; anything else unchanged."""
    return LEVEL_LABELS.get(key) or SCHOOL_TYPE_LABELS.get(key) or key


def _gap(value, threshold, comparison: str) -> tuple[float, float] | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not isinstance(threshold, (int, float)):
        return None
    gap = (threshold - value) if comparison in ("ge", "gt") else (value - threshold)
    return gap, (gap / threshold if threshold else 0.0)


def gap_list(result: dict, catalog: Catalog) -> list[dict[str, Any]]:
    """Every shortfall — school indicators, CVs, county items — largest relative gap first; yes/no items last."""
    names = {i.code: i.name for i in catalog.indicators}
    gaps = []
    for g in result.get("gaps", []):
        school = g["kind"] == "school"
        gaps.append({
            "type": "school" if school else "cv",
            "kind": _("学校指标") if school else _("差异系数"), "level": LEVEL_LABELS.get(g["level"], ""),
            "school": _("%(name)s（%(code)s）", name=g["school_name"], code=g["school_code"]) if school else "",
            "code": g["indicator"], "name": names.get(g["indicator"], ""), "value": g["value"],
            "standard": g.get("threshold", g.get("limit")), "gap": g["gap"], "ratio": g["gap_ratio"],
            "below_floor": g.get("below_floor"),
        })
    for aspect, body in result.get("aspects", {}).items():
        for code, item in (body.get("items") or {}).items():
            if item.get("pass") is not False:
                continue
            ind = catalog.by_code.get(code)
            comparison = ind.comparison if ind else "ge"
            base = {"code": code, "name": names.get(code, ""), "below_floor": False}
            if item.get("schools") is not None:  # G4/G5, derived school by school
                for s in item["schools"]:
                    if s.get("pass") is False:
                        gap = _gap(s["value"], s["threshold"], comparison)
                        gaps.append({**base, "type": "school_item",
                                     "kind": _("学校（%(aspect)s）", aspect=ASPECT_LABELS[aspect]),
                                     "level": LEVEL_LABELS.get(s.get("level") or "", ""),
                                     "school": _("%(name)s（%(code)s）", name=s["name"], code=s["code"]), "value": s["value"],
                                     "standard": s["threshold"], "gap": gap and gap[0], "ratio": gap and gap[1]})
                continue
            values = item["value"] if isinstance(item.get("value"), dict) else {"": item.get("value")}
            thresholds = item["threshold"] if isinstance(item.get("threshold"), dict) else {"": item.get("threshold")}
            for lvl, value in values.items():
                gap = _gap(value, thresholds.get(lvl), comparison)
                if gap is not None and gap[0] <= 0 and comparison != "lt":
                    continue  # the other level of a per-level item that passes
                standard = thresholds.get(lvl) if comparison != "bool" else (_("不得发生") if aspect == "veto" else _("是"))
                gaps.append({**base, "type": "county", "kind": _("县级指标（%(aspect)s）", aspect=ASPECT_LABELS[aspect]),
                             "level": LEVEL_LABELS.get(lvl, ""),
                             "school": "", "value": value, "standard": standard,
                             "gap": gap and gap[0], "ratio": gap and gap[1]})
    gaps.sort(key=lambda g: (g["ratio"] is None, -(g["ratio"] or 0)))
    return gaps


def linked_measures(unit, result: dict | None) -> list[dict[str, Any]]:
    """The county's tasks whose measures link indicators, with the verdict of those indicators."""
    from sqlalchemy.orm import contains_eager

    from tracker.indicators import links
    from tracker.plans.models import Measure, Section
    from tracker.tasks.models import Task

    tasks = db.session.scalars(select(Task).join(Task.measure).join(Measure.section).options(contains_eager(Task.measure))
                               .where(Task.unit_id == unit.id)
                               .order_by(Measure.plan_id, Section.position, Measure.position, Task.id)).unique().all()
    out = []
    for task in tasks:
        codes = list(task.measure.indicators or [])
        if codes:
            verdicts = links.codes_verdicts(result, codes) if result else {}
            out.append({"task": task, "codes": codes, "verdicts": verdicts,
                        "pass": links.combine(verdicts.values()) if result else None})
    return out


def county_year_page(unit, year: int) -> dict[str, Any]:
    """Everything the county evaluation page shows, in a fixed number of queries."""
    from tracker.indicators.models import CountyFlag, SchoolYear
    from tracker.indicators.operations import entries_with_files, is_sample

    state = catalog_state()
    evaluation = get_evaluation(unit.id, year)
    data_years = set(db.session.scalars(select(SchoolYear.year).where(SchoolYear.unit_id == unit.id).distinct()))
    evaluated = set(db.session.scalars(select(CountyEvaluation.year).where(CountyEvaluation.unit_id == unit.id)))
    result = detailed(evaluation)
    return {
        "unit": unit, "year": year, "evaluation": evaluation, "result": result, "catalog": state["catalog"],
        "entries": entries_with_files(unit, year), "gaps": gap_list(result, state["catalog"]) if result else [],
        "sample": is_sample(unit, year), "has_data": year in data_years,
        "years": sorted(data_years | evaluated), "linked": linked_measures(unit, result),
        "flag": db.session.scalar(select(CountyFlag).where(CountyFlag.unit_id == unit.id, CountyFlag.year == year,
                                                           CountyFlag.kind == "slippage")),
    }


def trend(unit) -> dict[str, Any]:
    """The county across years: each R indicator's CV per level with its verdict, and the overall verdicts."""
    from tracker.indicators.models import CountyFlag

    rows, previous = [], None
    for ev in evaluations_of(unit.id):
        r = ev.result
        levels = {lvl: r["levels"].get(lvl, {}) for lvl in LEVEL_LABELS}
        counts = {lvl: level_counts(body) for lvl, body in levels.items()}
        rows.append({
            "year": ev.year, "pass": ev.passed, "assessable": ev.assessable,
            "aspects": {a: b.get("pass") for a, b in r.get("aspects", {}).items()},
            "cv": {lvl: body.get("indicators") or {} for lvl, body in levels.items()},
            "level_pass": {lvl: body.get("pass") for lvl, body in levels.items()},
            "schools": {lvl: c["schools"] for lvl, c in counts.items()},
            "failing_schools": {lvl: c["failing"] for lvl, c in counts.items()},
            "slipped": previous is not None and previous.passed and not ev.passed and ev.assessable,
            "computed_at": ev.computed_at,
        })
        previous = ev
    flags = db.session.scalars(select(CountyFlag).where(CountyFlag.unit_id == unit.id).order_by(CountyFlag.year)).all()
    return {"unit": unit, "rows": rows, "flags": flags}


def overview() -> list[dict[str, Any]]:
    """Every county with its latest evaluation and open flags (three queries)."""
    from sqlalchemy import and_, func

    from tracker.indicators.models import CountyFlag
    from tracker.units.models import Unit

    latest = (select(CountyEvaluation.unit_id, func.max(CountyEvaluation.year).label("year"))
              .group_by(CountyEvaluation.unit_id).subquery())
    evals = {ev.unit_id: ev for ev in db.session.scalars(
        select(CountyEvaluation).join(latest, and_(latest.c.unit_id == CountyEvaluation.unit_id,
                                                   latest.c.year == CountyEvaluation.year)))}
    flags = dict(db.session.execute(select(CountyFlag.unit_id, func.count()).where(CountyFlag.resolved_at.is_(None))
                                    .group_by(CountyFlag.unit_id)).all())
    return [{"unit": u, "evaluation": evals.get(u.id), "open_flags": flags.get(u.id, 0)}
            for u in db.session.scalars(select(Unit).where(Unit.kind == "county").order_by(Unit.code))]


def all_flags() -> list:
    """Every county flag, open ones first, newest first."""
    from sqlalchemy.orm import selectinload

    from tracker.indicators.models import CountyFlag

    return list(db.session.scalars(select(CountyFlag).options(selectinload(CountyFlag.unit))
                                   .order_by(CountyFlag.resolved_at.is_not(None), CountyFlag.created_at.desc(),
                                             CountyFlag.id.desc())))
