"""County evaluation under 教督〔2017〕6号, over plain in-memory rows (no Flask, no database).

The caller loads a county's school rows and county-level entries once and passes them in;
nothing here queries per school. All thresholds and rule parameters come from the ``Catalog``.

Readings of the standard implemented here (see also ``data/indicators.yaml``):

- Resource allocation is checked per level. A school spanning levels is split into a primary
  and a junior part (``split_school``); shared totals are divided in proportion to
  pupils × weight over *all* its levels, senior high included, and the senior part is dropped.
  Per-level figures (``<total>_primary`` / ``<total>_junior``) win over the weighted split.
- A school passes when at least ``min_met`` of R1–R7 meet the threshold and every other one is
  at least ``floor_ratio`` × threshold. A level passes when every school in it passes and
  every indicator's enrolment-weighted CV is within its limit. Boundaries are inclusive
  (``ge``/``le``) with a relative tolerance of 1e-9, so 85.0 % of a threshold passes the floor.
- A level without schools has ``"pass": None`` and is left out of the resource verdict; the
  resource aspect itself is ``None`` only when the county has no evaluated school at all.
- County entries (guarantee, quality, recognition, veto) are ``code -> value``; a per-level
  indicator (G13) takes ``{"primary": v, "junior": v}`` or one number for both. A missing
  entry (absent or ``None``) makes its item ``"missing": True, "pass": None`` and its aspect
  ``"pass": None`` (not yet assessable) unless another item already fails it.
- G4 (school size) and G5 (class size) have ``scope: school``: they are derived from the school
  rows, never entered. A school spanning levels that reports only a whole-school maximum class
  size between the primary and junior limits cannot be judged and counts as missing.
- Veto items are bool, ``True`` meaning the violation happened.
- Overall ``"pass"`` is True only when every aspect passes; it is False otherwise, including
  when data are missing. ``"assessable"`` tells the two apart: it is True when the verdict no
  longer depends on missing data (everything entered, or something already fails).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence

from tracker.indicators.catalog import (
    LEVELS,
    MULTI_LEVEL_TYPES,
    RESOURCE_CODES,
    SCHOOL_TYPES,
    SINGLE_LEVEL_TYPES,
    Catalog,
    Indicator,
    Rules,
    type_levels,
)

#: The raw total behind each resource indicator and the pupil base it is expressed per.
RESOURCE_MEASURES = {
    "R1": ("qualified_teachers", 100),
    "R2": ("backbone_teachers", 100),
    "R3": ("pe_art_teachers", 100),
    "R4": ("building_area", 1),
    "R5": ("sports_area", 1),
    "R6": ("equipment_value", 1),
    "R7": ("multimedia_rooms", 100),
}
assert tuple(RESOURCE_MEASURES) == RESOURCE_CODES
TOTAL_FIELDS = tuple(total for total, _ in RESOURCE_MEASURES.values())
OUTPUT_DECIMALS = 4
_REL_TOL = 1e-9


@dataclass(frozen=True)
class SchoolYearData:
    """One school's figures for one year, as imported. Totals are for the whole school."""

    code: str
    name: str
    county: str
    school_type: str
    primary_pupils: int
    junior_pupils: int
    qualified_teachers: float  #: 高于规定学历教师数
    backbone_teachers: float  #: 县级及以上骨干教师数
    pe_art_teachers: float  #: 体育、艺术专任教师数
    building_area: float  #: 教学及辅助用房面积 ㎡
    sports_area: float  #: 体育运动场馆面积 ㎡
    equipment_value: float  #: 教学仪器设备值 元
    multimedia_rooms: float  #: 网络多媒体教室数
    class_count: int | None = None
    max_class_size: int | None = None
    #: Senior-high pupils of a 完全中学 / 十二年一贯制; needed to split its shared totals.
    senior_pupils: int | None = None
    max_class_size_primary: int | None = None
    max_class_size_junior: int | None = None
    # Per-level figures of a school spanning levels; when given for every level it teaches,
    # they replace the weighted split of the total.
    qualified_teachers_primary: float | None = None
    qualified_teachers_junior: float | None = None
    backbone_teachers_primary: float | None = None
    backbone_teachers_junior: float | None = None
    pe_art_teachers_primary: float | None = None
    pe_art_teachers_junior: float | None = None
    building_area_primary: float | None = None
    building_area_junior: float | None = None
    sports_area_primary: float | None = None
    sports_area_junior: float | None = None
    equipment_value_primary: float | None = None
    equipment_value_junior: float | None = None
    multimedia_rooms_primary: float | None = None
    multimedia_rooms_junior: float | None = None

    def __post_init__(self) -> None:
        if self.school_type not in SCHOOL_TYPES:
            raise ValueError(f"school {self.code}: unknown school type {self.school_type!r}")
        for name in _NUMBER_FIELDS:
            value = getattr(self, name)
            kind = type(value)
            if value is None or (kind is int and value >= 0) or (kind is float and 0 <= value < math.inf):
                continue  # the common cases, decided without the general checks below
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"school {self.code}: {name} must be a non-negative number, got {value!r}")

    @property
    def compulsory_pupils(self) -> int:
        return self.primary_pupils + self.junior_pupils


#: the figures of SchoolYearData checked to be non-negative numbers (every field after school_type)
_NUMBER_FIELDS = tuple(f.name for f in fields(SchoolYearData)[4:])


@dataclass(frozen=True)
class LevelPart:
    """The primary or junior part of a school, evaluated as if it were a school of its own."""

    school_code: str
    school_name: str
    school_type: str
    level: str
    pupils: int
    totals: Mapping[str, float]
    #: Fraction of the shared totals given to this part by the weighted split (None: not split).
    weighted_share: float | None = field(default=None)


def exclusion_reason(s: SchoolYearData, rules: Rules) -> str | None:
    """Why the school is left out of the resource checks, or None if it is evaluated."""
    for ex in rules.exclusions:
        if ex.school_type == s.school_type and (ex.below_pupils is None or s.compulsory_pupils < ex.below_pupils):
            return ex.reason
    return None


def _school_weights(s: SchoolYearData, rules: Rules) -> Mapping[str, float]:
    if s.school_type in SINGLE_LEVEL_TYPES:
        return {SINGLE_LEVEL_TYPES[s.school_type]: 1.0}
    if s.school_type in MULTI_LEVEL_TYPES:
        return rules.split_weights[s.school_type]
    raise ValueError(f"school {s.code}: a {s.school_type} has no compulsory level to evaluate")


def split_school(s: SchoolYearData, rules: Rules) -> list[LevelPart]:
    """Split a school into its primary/junior parts (one part for a single-level school)."""
    weights = _school_weights(s, rules)
    pupils = {"primary": s.primary_pupils, "junior": s.junior_pupils, "senior": s.senior_pupils or 0}
    stray = [lvl for lvl, n in pupils.items() if n and lvl not in weights]
    if stray:
        raise ValueError(f"school {s.code}: a {s.school_type} cannot have {stray[0]} pupils")
    levels = [lvl for lvl in LEVELS if lvl in weights and pupils[lvl] > 0]
    if not levels:
        raise ValueError(f"school {s.code}: no compulsory-education pupils")
    if len(weights) == 1:  # a single-level school: its one part has every total (share p·1 / p·1 = 1.0)
        (lvl,) = levels
        share = pupils[lvl] * weights[lvl] / (pupils[lvl] * weights[lvl])
        return [LevelPart(s.code, s.name, s.school_type, lvl, pupils[lvl],
                          {total: getattr(s, total) * share for total in TOTAL_FIELDS}, share)]
    shares: dict[str, float] | None = None
    totals: dict[str, dict[str, float]] = {lvl: {} for lvl in levels}
    for total in TOTAL_FIELDS:
        given = {lvl: getattr(s, f"{total}_{lvl}") for lvl in levels} if len(weights) > 1 else {}
        if given and None not in given.values():
            for lvl in levels:
                totals[lvl][total] = given[lvl]
            continue
        if any(v is not None for v in given.values()):
            raise ValueError(f"school {s.code}: {total} is given per level for some levels only")
        if shares is None:
            if "senior" in weights and s.senior_pupils is None:
                raise ValueError(f"school {s.code}: senior_pupils is needed to split the shared totals of a {s.school_type}")
            denominator = sum(pupils[lvl] * w for lvl, w in weights.items())
            shares = {lvl: pupils[lvl] * weights[lvl] / denominator for lvl in levels}
        for lvl in levels:
            totals[lvl][total] = getattr(s, total) * shares[lvl]
    return [
        LevelPart(s.code, s.name, s.school_type, lvl, pupils[lvl], totals[lvl],
                  None if shares is None else shares[lvl])
        for lvl in levels
    ]


def school_values(part: LevelPart) -> dict[str, float]:
    """R1–R7 of one part: per 100 pupils (R1–R3, R7) or per pupil (R4–R6)."""
    if part.pupils <= 0:
        raise ValueError(f"school {part.school_code}: no {part.level} pupils")
    return {code: part.totals[total] / part.pupils * per for code, (total, per) in RESOURCE_MEASURES.items()}


def compare(value: float, bound: float, comparison: str) -> bool:
    """``value <comparison> bound``; equality within a relative 1e-9 (values come from divisions)."""
    close = math.isclose(value, bound, rel_tol=_REL_TOL, abs_tol=1e-12)
    if comparison == "ge":
        return value > bound or close
    if comparison == "gt":
        return value > bound and not close
    if comparison == "le":
        return value < bound or close
    if comparison == "lt":
        return value < bound and not close
    if comparison == "eq":
        return close
    raise ValueError(f"cannot compare numbers with {comparison!r}")


def school_compliance(values: Mapping[str, float], level: str, catalog: Catalog,
                      resource: Sequence[Indicator] | None = None) -> dict[str, Any]:
    """At least ``min_met`` of R1–R7 met, the rest no lower than ``floor_ratio`` × threshold.

    ``resource`` is ``catalog.resource_indicators`` when the caller already has it (once per level).
    """
    rules = catalog.rules
    met, shortfalls = 0, []
    for ind in catalog.resource_indicators if resource is None else resource:
        threshold, value = ind.threshold_for(level), values[ind.code]
        if value >= threshold or compare(value, threshold, "ge"):  # the first test is compare's own, made cheap
            met += 1
            continue
        gap = threshold - value
        shortfalls.append({
            "code": ind.code, "value": value, "threshold": threshold, "gap": gap, "gap_ratio": gap / threshold,
            "below_floor": not compare(value, rules.floor_ratio * threshold, "ge"),
        })
    shortfalls.sort(key=lambda sf: -sf["gap_ratio"])
    passed = met >= rules.min_met and not any(sf["below_floor"] for sf in shortfalls)
    return {"met": met, "pass": passed, "shortfalls": shortfalls}


def weighted_cv(values: Sequence[float], pupils: Sequence[float]) -> tuple[float, float, float]:
    """Enrolment-weighted mean, population SD and CV: X̄ = ΣXᵢPᵢ/P, S = √Σ(Pᵢ/P)(Xᵢ−X̄)², CV = S/X̄."""
    if not values or len(values) != len(pupils):
        raise ValueError("weighted_cv needs one enrolment per value and at least one value")
    if any(p <= 0 for p in pupils):
        raise ValueError("weighted_cv: every enrolment must be positive")
    total = math.fsum(pupils)
    mean = math.fsum(x * p for x, p in zip(values, pupils)) / total
    sd = math.sqrt(math.fsum(p / total * (x - mean) ** 2 for x, p in zip(values, pupils)))
    if mean == 0:
        if sd:
            raise ValueError("weighted_cv: mean is zero, CV undefined")
        return mean, sd, 0.0
    return mean, sd, sd / mean


def _evaluate_level(level: str, parts: list[LevelPart], catalog: Catalog) -> dict[str, Any]:
    if not parts:
        return {"schools": [], "indicators": {}, "pass": None}
    rows = []
    resource = catalog.resource_indicators
    for part in parts:
        values = school_values(part)
        rows.append({"code": part.school_code, "name": part.school_name, "school_type": part.school_type,
                     "pupils": part.pupils, "values": values,
                     **school_compliance(values, level, catalog, resource)})
    pupils = [part.pupils for part in parts]
    indicators = {}
    for ind in resource:
        mean, sd, cv = weighted_cv([row["values"][ind.code] for row in rows], pupils)
        limit = ind.cv_limit[level]
        indicators[ind.code] = {"mean": mean, "sd": sd, "cv": cv, "limit": limit, "pass": compare(cv, limit, "le")}
    passed = all(row["pass"] for row in rows) and all(i["pass"] for i in indicators.values())
    return {"schools": rows, "indicators": indicators, "pass": passed}


def _combine(passes) -> bool | None:
    passes = list(passes)
    if False in passes:
        return False
    return None if None in passes else True


def _number(value: Any, code: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{code}: expected a number, got {value!r}")
    return value


def _county_item(ind: Indicator, value: Any, compact: bool = False) -> dict[str, Any]:
    """An entered item's verdict; ``compact``: without its threshold, the value rounded (see results.compact)."""
    if compact:
        item = {"value": value, "pass": None, "missing": value is None}
    else:
        item = {"value": value, "threshold": dict(ind.thresholds) if ind.thresholds else ind.threshold,
                "pass": None, "missing": value is None}
    if value is None:
        return item
    if ind.comparison == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{ind.code}: expected true or false, got {value!r}")
        item["pass"] = (not value) if ind.aspect == "veto" else value
    elif ind.per_level:
        per = dict(value) if isinstance(value, Mapping) else {lvl: value for lvl in ind.thresholds}
        if set(per) - set(ind.thresholds):
            raise ValueError(f"{ind.code}: unknown level in {value!r}")
        item["value"] = per
        item["missing"] = any(per.get(lvl) is None for lvl in ind.thresholds)
        item["pass"] = _combine(
            None if per.get(lvl) is None else compare(_number(per[lvl], ind.code), t, ind.comparison)
            for lvl, t in ind.thresholds.items()
        )
    else:
        item["pass"] = compare(_number(value, ind.code), ind.threshold, ind.comparison)
    if compact:
        item["value"] = rounded(item["value"])
    return item


def _school_size_checks(ind: Indicator, s: SchoolYearData) -> list[dict[str, Any]]:
    threshold = ind.thresholds.get(s.school_type) if ind.thresholds else ind.threshold
    if threshold is None:
        return []
    value = s.compulsory_pupils
    return [{"level": None, "value": value, "threshold": threshold, "pass": compare(value, threshold, ind.comparison)}]


def _class_size_checks(ind: Indicator, s: SchoolYearData) -> list[dict[str, Any]]:
    levels = [lvl for lvl in LEVELS if lvl in type_levels(s.school_type) and getattr(s, f"{lvl}_pupils") > 0]
    per_level = {lvl: getattr(s, f"max_class_size_{lvl}") for lvl in levels}
    if len(levels) > 1 and None not in per_level.values():
        return [{"level": lvl, "value": v, "threshold": ind.threshold_for(lvl),
                 "pass": compare(v, ind.threshold_for(lvl), ind.comparison)} for lvl, v in per_level.items()]
    value = per_level[levels[0]] if len(levels) == 1 and per_level[levels[0]] is not None else s.max_class_size
    if value is None:
        return [{"level": None, "value": None, "threshold": None, "pass": None}]
    limits = [ind.threshold_for(lvl) for lvl in levels]
    results = [compare(value, t, ind.comparison) for t in limits]
    # A whole-school maximum passes only if it satisfies every level's limit and fails only
    # if it breaks all of them; in between we cannot tell which level the big class is in.
    verdict = True if all(results) else False if not any(results) else None
    return [{"level": levels[0] if len(levels) == 1 else None, "value": value,
             "threshold": limits[0] if len(limits) == 1 else dict(zip(levels, limits)), "pass": verdict}]


SCHOOL_SCOPE_CHECKS = {"G4": _school_size_checks, "G5": _class_size_checks}


def _school_item(ind: Indicator, schools: Sequence[SchoolYearData]) -> dict[str, Any]:
    try:
        check = SCHOOL_SCOPE_CHECKS[ind.code]
    except KeyError:
        raise ValueError(f"{ind.code}: the engine cannot derive this indicator from school rows") from None
    in_scope = [s for s in schools if type_levels(s.school_type)]
    checks = [{"code": s.code, "name": s.name, **c} for s in in_scope if s.compulsory_pupils for c in check(ind, s)]
    values = [c["value"] for c in checks if c["value"] is not None]
    passed = _combine(c["pass"] for c in checks) if checks else None
    return {
        "value": max(values) if values else None,
        "threshold": dict(ind.thresholds) if ind.thresholds else ind.threshold,
        "pass": passed,
        "missing": not checks or any(c["pass"] is None for c in checks),
        "schools": [c for c in checks if c["pass"] is not True],
    }


def _gaps(levels: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    school_gaps = [
        {"kind": "school", "level": lvl, "school_code": row["code"], "school_name": row["name"],
         "indicator": sf["code"], "value": sf["value"], "threshold": sf["threshold"], "gap": sf["gap"],
         "gap_ratio": sf["gap_ratio"], "below_floor": sf["below_floor"], "school_pass": row["pass"]}
        for lvl, result in levels.items() for row in result["schools"] for sf in row["shortfalls"]
    ]
    school_gaps.sort(key=lambda g: (-g["gap_ratio"], LEVELS.index(g["level"]), g["school_code"], g["indicator"]))
    cv_gaps = [
        {"kind": "cv", "level": lvl, "indicator": code, "value": i["cv"], "limit": i["limit"],
         "gap": i["cv"] - i["limit"], "gap_ratio": (i["cv"] - i["limit"]) / i["limit"]}
        for lvl, result in levels.items() for code, i in result["indicators"].items() if not i["pass"]
    ]
    cv_gaps.sort(key=lambda g: (-g["gap_ratio"], LEVELS.index(g["level"]), g["indicator"]))
    return school_gaps + cv_gaps


def evaluate_county(
    county: str,
    year: int,
    schools: Sequence[SchoolYearData],
    county_entries: Mapping[str, Any] | None,
    catalog: Catalog,
) -> dict[str, Any]:
    """Evaluate one county for one year; returns a JSON-able dict (floats rounded to 4 places)."""
    duplicates = sorted(code for code, n in Counter(s.code for s in schools).items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate school codes: {', '.join(duplicates)}")
    strangers = [s.code for s in schools if s.county != county]
    if strangers:
        raise ValueError(f"schools not in {county}: {', '.join(strangers)}")
    aspects = county_aspects(county_entries, catalog, lambda ind: _school_item(ind, schools))
    excluded: list[dict[str, Any]] = []
    parts: dict[str, list[LevelPart]] = {lvl: [] for lvl in LEVELS}
    for s in schools:
        reason = exclusion_reason(s, catalog.rules)
        if reason:
            excluded.append({"code": s.code, "name": s.name, "school_type": s.school_type,
                             "pupils": s.compulsory_pupils, "reason": reason})
            continue
        for part in split_school(s, catalog.rules):
            parts[part.level].append(part)
    levels = {lvl: _evaluate_level(lvl, level_parts, catalog) for lvl, level_parts in parts.items()}
    aspects, passed, assessable = verdicts(levels, aspects)
    return rounded({
        "county": county,
        "year": year,
        "levels": levels,
        "excluded": excluded,
        "resource_allocation_pass": aspects["resource"]["pass"],
        "aspects": aspects,
        "pass": passed,
        "assessable": assessable,
        "gaps": _gaps(levels),
    })


def county_aspects(county_entries: Mapping[str, Any] | None, catalog: Catalog, school_item,
                   compact: bool = False) -> dict[str, dict[str, Any]]:
    """The guarantee, quality, recognition and veto aspects: county entries judged item by item; the items
    derived from school rows (G4, G5) come from ``school_item(indicator)``. ``compact``: items of the
    compact shape (results.compact_item), as `sqlengine` stores them."""
    entries = county_entries or {}
    unknown = sorted(set(entries) - set(catalog.by_code))
    if unknown:
        raise ValueError(f"unknown indicator codes in county entries: {', '.join(unknown)}")
    aspects: dict[str, dict[str, Any]] = {}
    for aspect in ("guarantee", "quality", "recognition", "veto"):
        items = {}
        failed = missing = False  # _combine of the items' verdicts, kept as they come (thousands of counties a night)
        for ind in catalog.aspect(aspect):
            value = entries.get(ind.code)
            if ind.scope == "school":
                if value is not None:
                    raise ValueError(f"{ind.code} is derived from the school rows and cannot be entered")
                item = school_item(ind)
            else:
                item = _county_item(ind, value, compact)
            items[ind.code] = item
            if item["pass"] is False:
                failed = True
            elif item["pass"] is None:
                missing = True
        aspects[aspect] = {"pass": False if failed else None if missing else True, "items": items}
    aspects["veto"]["violations"] = [code for code, item in aspects["veto"]["items"].items() if item["pass"] is False]
    return aspects


def verdicts(levels: Mapping[str, Mapping[str, Any]], aspects: dict[str, dict[str, Any]]
             ) -> tuple[dict[str, dict[str, Any]], bool, bool]:
    """The aspects with the resource aspect first (from the levels), the overall pass and whether it is assessable."""
    assessed = [result["pass"] for result in levels.values() if result["pass"] is not None]
    aspects = {"resource": {"pass": all(assessed) if assessed else None}, **aspects}
    passes = [a["pass"] for a in aspects.values()]
    return aspects, all(p is True for p in passes), None not in passes or False in passes


def county_verdict_changed(prev: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
    """'passed' when the county newly passes, 'slipped' when a pass turns into a fail, else None.

    A fail that is only due to missing data (``assessable`` False) is not a slip.
    """
    was = bool(prev) and prev.get("pass") is True
    now = new.get("pass") is True
    if now and not was:
        return "passed"
    if was and not now and new.get("assessable", True):
        return "slipped"
    return None


_AS_IS = frozenset({int, str, bool, type(None)})


def rounded(obj: Any) -> Any:
    """Floats rounded to OUTPUT_DECIMALS, dicts and lists (tuples become lists) copied, the rest as is.

    Plain floats and scalars inside a dict or list are handled in place (no call each): the result
    holds tens of thousands of numbers per county.
    """
    kind = type(obj)
    if kind is dict:
        return {k: (round(v, OUTPUT_DECIMALS) if type(v) is float else v if type(v) in _AS_IS else rounded(v))
                for k, v in obj.items()}
    if kind is list or kind is tuple:
        return [round(v, OUTPUT_DECIMALS) if type(v) is float else v if type(v) in _AS_IS else rounded(v)
                for v in obj]
    if isinstance(obj, float):
        return round(obj, OUTPUT_DECIMALS)
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v) for v in obj]
    return obj
