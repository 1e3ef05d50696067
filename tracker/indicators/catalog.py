"""The indicator catalog of 教督〔2017〕6号 as plain data: load, validate, serialise.

The figures live in ``data/indicators.yaml`` (and later in the database, edited by the admin);
this module only gives them a shape. ``Catalog.from_dict`` validates and names the offending
field on bad input; ``to_dict`` is its inverse, so ``from_dict(c.to_dict()) == c``.
No Flask, no SQLAlchemy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import yaml

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "indicators.yaml"

LEVELS = ("primary", "junior")
ASPECTS = ("resource", "guarantee", "quality", "recognition", "veto")
COMPARISONS = ("ge", "gt", "le", "lt", "eq", "bool")
SCOPES = ("county", "school")
SCHOOL_TYPES = ("小学", "初中", "九年一贯制", "完全中学", "十二年一贯制", "教学点", "特殊教育", "职业学校")  # i18n: data
#: Levels taught by single-level school types; types absent here and from MULTI_LEVEL_TYPES
#: (特殊教育, 职业学校) have no compulsory level and must be excluded by the rules.
SINGLE_LEVEL_TYPES = {"小学": "primary", "教学点": "primary", "初中": "junior"}  # i18n: data
#: Levels of schools spanning levels, as keys of their split weights ("senior" is dropped).
MULTI_LEVEL_TYPES = {
    "九年一贯制": ("primary", "junior"),  # i18n: data
    "完全中学": ("junior", "senior"),  # i18n: data
    "十二年一贯制": ("primary", "junior", "senior"),  # i18n: data
}
RESOURCE_CODES = tuple(f"R{i}" for i in range(1, 8))


def type_levels(school_type: str) -> tuple[str, ...]:
    """Levels a school type teaches (senior included); empty for 特殊教育 and 职业学校."""
    if school_type in SINGLE_LEVEL_TYPES:
        return (SINGLE_LEVEL_TYPES[school_type],)
    return MULTI_LEVEL_TYPES.get(school_type, ())


RULE_FIELDS = ("min_met", "floor_ratio", "exclusions", "split_weights")

Number = int | float


class CatalogError(ValueError):
    """A catalog file or dict is malformed; the message names the field."""


@dataclass(frozen=True)
class Indicator:
    """One indicator. Exactly one of ``threshold``/``thresholds`` is set unless comparison is bool.

    ``thresholds`` is keyed by level (primary/junior), or by school type for G4.
    """

    code: str
    aspect: str
    name: str
    unit: str
    comparison: str
    source: str
    threshold: Number | None = None
    thresholds: Mapping[str, Number] = field(default_factory=dict)
    cv_limit: Mapping[str, Number] = field(default_factory=dict)
    scope: str = "county"
    group: str | None = None
    uncertain: bool = False
    note: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def per_level(self) -> bool:
        return bool(self.thresholds) and set(self.thresholds) <= set(LEVELS)

    def threshold_for(self, key: str | None = None) -> Number | None:
        """The threshold for a level (or school type for G4); the single one if not split."""
        if not self.thresholds:
            return self.threshold
        try:
            return self.thresholds[key]
        except KeyError:
            raise KeyError(f"{self.code}: no threshold for {key!r}") from None


@dataclass(frozen=True)
class Exclusion:
    """Schools of ``school_type`` (with fewer than ``below_pupils`` pupils, if set) are left out."""

    school_type: str
    reason: str
    below_pupils: int | None = None


@dataclass(frozen=True)
class Rules:
    """Resource-allocation rule parameters."""

    min_met: int
    floor_ratio: float
    exclusions: tuple[Exclusion, ...]
    split_weights: Mapping[str, Mapping[str, Number]]
    uncertain: tuple[str, ...] = ()
    notes: Mapping[str, str] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class Catalog:
    indicators: tuple[Indicator, ...]
    rules: Rules
    standard: str = ""
    version: int = 1
    by_code: Mapping[str, Indicator] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_code", {i.code: i for i in self.indicators})

    @cached_property
    def resource_indicators(self) -> tuple[Indicator, ...]:
        """R1–R7 in code order."""
        return tuple(self.by_code[c] for c in RESOURCE_CODES)

    def aspect(self, aspect: str) -> tuple[Indicator, ...]:
        return self._aspects.get(aspect, ())

    @cached_property
    def _aspects(self) -> dict[str, tuple[Indicator, ...]]:
        out: dict[str, list[Indicator]] = {}
        for i in self.indicators:
            out.setdefault(i.aspect, []).append(i)
        return {a: tuple(items) for a, items in out.items()}

    # ── (de)serialisation ────────────────────────────────────────────────────────────
    @classmethod
    def from_dict(cls, data: Any, *, origin: str = "catalog") -> Catalog:
        """Validate a plain dict (as parsed from YAML or built from DB rows)."""
        _mapping(data, origin)
        rules = _rules(_get(data, "rules", origin), f"{origin}.rules")
        raw = _get(data, "indicators", origin)
        if not isinstance(raw, list) or not raw:
            raise CatalogError(f"{origin}.indicators: expected a non-empty list")
        indicators = tuple(_indicator(item, f"{origin}.indicators[{n}]") for n, item in enumerate(raw))
        seen: set[str] = set()
        for ind in indicators:
            if ind.code in seen:
                raise CatalogError(f"{origin}.indicators: duplicate code {ind.code!r}")
            seen.add(ind.code)
        resource = sorted(i.code for i in indicators if i.aspect == "resource")
        if resource != sorted(RESOURCE_CODES):
            raise CatalogError(
                f"{origin}.indicators: resource indicators must be exactly {', '.join(RESOURCE_CODES)}, "
                f"got {', '.join(resource) or 'none'}"
            )
        if not 0 <= rules.min_met <= len(RESOURCE_CODES):
            raise CatalogError(f"{origin}.rules.min_met: must be between 0 and {len(RESOURCE_CODES)}")
        version = data.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise CatalogError(f"{origin}.version: expected an integer")
        standard = data.get("standard", "")
        if not isinstance(standard, str):
            raise CatalogError(f"{origin}.standard: expected text")
        return cls(indicators=indicators, rules=rules, standard=standard, version=version)

    def to_dict(self) -> dict[str, Any]:
        r = self.rules
        rules: dict[str, Any] = {
            "min_met": r.min_met,
            "floor_ratio": r.floor_ratio,
            "exclusions": [
                {"school_type": e.school_type, **({"below_pupils": e.below_pupils} if e.below_pupils is not None else {}),
                 "reason": e.reason}
                for e in r.exclusions
            ],
            "split_weights": {t: dict(w) for t, w in r.split_weights.items()},
            "uncertain": list(r.uncertain),
            "notes": dict(r.notes),
            "source": r.source,
        }
        return {
            "version": self.version,
            "standard": self.standard,
            "rules": rules,
            "indicators": [_indicator_dict(i) for i in self.indicators],
        }


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate the YAML catalog (default: ``data/indicators.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc
    return Catalog.from_dict(data, origin=str(path))


# ── validation helpers ──────────────────────────────────────────────────────────────────
def _mapping(value: Any, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise CatalogError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _get(data: Mapping, key: str, where: str) -> Any:
    if key not in data or data[key] is None:
        raise CatalogError(f"{where}.{key}: required field is missing")
    return data[key]


def _text(data: Mapping, key: str, where: str, *, required: bool = True) -> str:
    if not required and data.get(key) is None:
        return ""
    value = _get(data, key, where)
    if not isinstance(value, str) or (required and not value.strip()):
        raise CatalogError(f"{where}.{key}: expected non-empty text, got {value!r}")
    return value


def _number(value: Any, where: str, *, positive: bool = False) -> Number:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CatalogError(f"{where}: expected a number, got {value!r}")
    if positive and value <= 0:
        raise CatalogError(f"{where}: must be greater than 0, got {value!r}")
    return value


def _choice(data: Mapping, key: str, where: str, options: tuple[str, ...], default: str | None = None) -> str:
    value = data.get(key, default)
    if value not in options:
        raise CatalogError(f"{where}.{key}: must be one of {', '.join(options)}, got {value!r}")
    return value


def _number_map(value: Any, where: str, keys: tuple[str, ...], *, positive: bool = False) -> dict[str, Number]:
    _mapping(value, where)
    out = {}
    for k, v in value.items():
        if k not in keys:
            raise CatalogError(f"{where}.{k}: unknown key (allowed: {', '.join(keys)})")
        out[k] = _number(v, f"{where}.{k}", positive=positive)
    if not out:
        raise CatalogError(f"{where}: must not be empty")
    return out


def _indicator(item: Any, where: str) -> Indicator:
    _mapping(item, where)
    code = _text(item, "code", where)
    where = f"{where} ({code})"
    aspect = _choice(item, "aspect", where, ASPECTS)
    comparison = _choice(item, "comparison", where, COMPARISONS)
    scope = _choice(item, "scope", where, SCOPES, default="county")
    has_one, has_many = item.get("threshold") is not None, item.get("thresholds") is not None
    threshold, thresholds = None, {}
    if comparison == "bool":
        if has_one or has_many:
            raise CatalogError(f"{where}.threshold: a bool indicator takes no threshold")
    elif has_one == has_many:
        raise CatalogError(f"{where}.threshold: give exactly one of threshold / thresholds")
    elif has_one:
        threshold = _number(item["threshold"], f"{where}.threshold")
    else:
        thresholds = _number_map(item["thresholds"], f"{where}.thresholds", LEVELS + SCHOOL_TYPES)
        if not set(thresholds) <= set(LEVELS) and scope != "school":
            raise CatalogError(f"{where}.thresholds: thresholds by school type need scope: school")
    cv_limit = {}
    if aspect == "resource":
        if comparison != "ge" or set(thresholds) != set(LEVELS) or min(thresholds.values()) <= 0:
            raise CatalogError(
                f"{where}: resource indicators compare with ge and need positive thresholds for primary and junior"
            )
        cv_limit = _number_map(_get(item, "cv_limit", where), f"{where}.cv_limit", LEVELS, positive=True)
        if set(cv_limit) != set(LEVELS):
            raise CatalogError(f"{where}.cv_limit: needs primary and junior")
    elif item.get("cv_limit") is not None:
        raise CatalogError(f"{where}.cv_limit: only resource indicators have a CV limit")
    if aspect == "veto" and comparison != "bool":
        raise CatalogError(f"{where}.comparison: veto items are bool (true = violation)")
    uncertain = item.get("uncertain", False)
    if not isinstance(uncertain, bool):
        raise CatalogError(f"{where}.uncertain: expected true or false, got {uncertain!r}")
    note = _text(item, "note", where, required=uncertain)
    group = item.get("group")
    if group is not None and not isinstance(group, str):
        raise CatalogError(f"{where}.group: expected text, got {group!r}")
    params = dict(_mapping(item.get("params") or {}, f"{where}.params"))
    known = {"code", "aspect", "name", "unit", "comparison", "threshold", "thresholds", "cv_limit",
             "scope", "group", "uncertain", "note", "source", "params"}
    unknown = sorted(set(item) - known)
    if unknown:
        raise CatalogError(f"{where}.{unknown[0]}: unknown field")
    return Indicator(
        code=code, aspect=aspect, name=_text(item, "name", where), unit=_text(item, "unit", where),
        comparison=comparison, source=_text(item, "source", where), threshold=threshold,
        thresholds=thresholds, cv_limit=cv_limit, scope=scope, group=group, uncertain=uncertain,
        note=note, params=params,
    )


def _rules(data: Any, where: str) -> Rules:
    _mapping(data, where)
    min_met = _get(data, "min_met", where)
    if isinstance(min_met, bool) or not isinstance(min_met, int):
        raise CatalogError(f"{where}.min_met: expected an integer, got {min_met!r}")
    floor_ratio = _number(_get(data, "floor_ratio", where), f"{where}.floor_ratio", positive=True)
    if floor_ratio > 1:
        raise CatalogError(f"{where}.floor_ratio: must be at most 1, got {floor_ratio!r}")
    raw_exclusions = data.get("exclusions") or []
    if not isinstance(raw_exclusions, list):
        raise CatalogError(f"{where}.exclusions: expected a list")
    exclusions = []
    for n, ex in enumerate(raw_exclusions):
        w = f"{where}.exclusions[{n}]"
        _mapping(ex, w)
        school_type = _choice(ex, "school_type", w, SCHOOL_TYPES)
        below = ex.get("below_pupils")
        if below is not None and (isinstance(below, bool) or not isinstance(below, int) or below <= 0):
            raise CatalogError(f"{w}.below_pupils: expected a positive integer, got {below!r}")
        exclusions.append(Exclusion(school_type=school_type, reason=_text(ex, "reason", w), below_pupils=below))
    weights_raw = _mapping(_get(data, "split_weights", where), f"{where}.split_weights")
    split_weights = {}
    for school_type, levels in MULTI_LEVEL_TYPES.items():
        w = f"{where}.split_weights.{school_type}"
        if school_type not in weights_raw:
            raise CatalogError(f"{w}: required field is missing")
        weights = _number_map(weights_raw[school_type], w, levels, positive=True)
        if set(weights) != set(levels):
            raise CatalogError(f"{w}: needs weights for {', '.join(levels)}")
        split_weights[school_type] = weights
    extra = sorted(set(weights_raw) - set(MULTI_LEVEL_TYPES))
    if extra:
        raise CatalogError(f"{where}.split_weights.{extra[0]}: not a school type spanning levels")
    # A type without compulsory levels can only be left out, never evaluated.
    for school_type in SCHOOL_TYPES:
        if not type_levels(school_type) and not any(
            e.school_type == school_type and e.below_pupils is None for e in exclusions
        ):
            raise CatalogError(f"{where}.exclusions: {school_type} has no compulsory level and must be excluded")
    uncertain = data.get("uncertain") or []
    if not isinstance(uncertain, list) or any(u not in RULE_FIELDS for u in uncertain):
        raise CatalogError(f"{where}.uncertain: expected a list of {', '.join(RULE_FIELDS)}")
    notes = _mapping(data.get("notes") or {}, f"{where}.notes")
    for key, value in notes.items():
        if key not in RULE_FIELDS or not isinstance(value, str):
            raise CatalogError(f"{where}.notes.{key}: expected text for one of {', '.join(RULE_FIELDS)}")
    for key in uncertain:
        if not notes.get(key):
            raise CatalogError(f"{where}.notes.{key}: an uncertain rule needs a note")
    source = data.get("source") or ""
    if not isinstance(source, str):
        raise CatalogError(f"{where}.source: expected text")
    return Rules(
        min_met=min_met, floor_ratio=floor_ratio, exclusions=tuple(exclusions), split_weights=split_weights,
        uncertain=tuple(uncertain), notes=dict(notes), source=source,
    )


def _indicator_dict(i: Indicator) -> dict[str, Any]:
    out: dict[str, Any] = {"code": i.code, "aspect": i.aspect, "name": i.name, "unit": i.unit,
                           "comparison": i.comparison}
    if i.threshold is not None:
        out["threshold"] = i.threshold
    if i.thresholds:
        out["thresholds"] = dict(i.thresholds)
    if i.cv_limit:
        out["cv_limit"] = dict(i.cv_limit)
    if i.scope != "county":
        out["scope"] = i.scope
    if i.group is not None:
        out["group"] = i.group
    if i.params:
        out["params"] = dict(i.params)
    out["source"] = i.source
    if i.uncertain:
        out["uncertain"] = True
    if i.note:
        out["note"] = i.note
    return out
