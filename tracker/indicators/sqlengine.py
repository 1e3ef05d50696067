"""Every county of a year judged in ONE aggregate statement: the engine's readings of 教督〔2017〕6号 in SQL.

`engine.evaluate_county` walks a county's schools in Python and returns every school's values. At the
national size (≈200,000 schools) that walk costs far more than the sums it ends in, so `bulk.evaluate_all`
asks the database for the sums instead and keeps the school detail for the pages that show it
(`store.detailed` runs the engine for that one county when a page asks).

From one read of the year's school rows (the same readings as the engine), per county:

- a school's primary and junior parts side by side: pupils and R1–R7 values (a school spanning levels
  has its totals split by pupils × weight, senior pupils included: the school table stores whole-school
  totals only, so the engine's per-level figures never occur here);
- per level: parts, Σ P, Σ P·X and Σ P·X² of each indicator (the enrolment-weighted CV needs no more),
  parts failing the 6-of-7 rule, and per indicator the failing parts that fall short of it;
- schools left out by the exclusion rules; G4 (school size) and G5 (class size) checks, failures,
  undecidable checks and the largest value;
- ``bad``: schools the engine would refuse (a type that cannot have those pupils, a negative or not a
  finite figure, a school with a senior part but no senior pupil count). Such a
  county is not judged here: the caller runs the engine on it, which reports the reason in words.

Comparisons keep the engine's tolerance (``engine.compare``: equal within a relative 1e-9), written for
the non-negative figures a school reports. `county_result` turns a row into the same result the engine
gives, less the school lists (`results.compact` of it); tests hold the two equal on every kind of school.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from sqlalchemy import Float, Integer, String, and_, case, cast, column, func, literal, literal_column, not_, or_, \
    select, text, union_all
from sqlalchemy.sql.elements import ColumnElement

from tracker.extensions import db
from tracker.indicators.catalog import LEVELS, MULTI_LEVEL_TYPES, SCHOOL_TYPES, SINGLE_LEVEL_TYPES, Catalog, Indicator, \
    type_levels
from tracker.indicators.engine import OUTPUT_DECIMALS, RESOURCE_MEASURES, TOTAL_FIELDS, compare, county_aspects, \
    verdicts
from tracker.indicators.models import SchoolYear

_REL = 1e-9
_ABS = 1e-12
_INT_FIELDS = ("primary_pupils", "junior_pupils", "senior_pupils", "class_count", "max_class_size",
               "max_class_size_primary", "max_class_size_junior")


def _tol(bound: float) -> float:
    return max(_REL * abs(bound), _ABS)


def edge(bound: float, comparison: str) -> float:
    """The exact float where ``engine.compare(value, bound, comparison)`` turns: for "le" and "gt" the largest
    value within ``value <= bound`` (tolerance included), for "ge" and "lt" the smallest value within
    ``value >= bound``. ``compare`` is monotone in the value, so one plain comparison with this edge gives
    the same verdict as the tolerance does."""
    if comparison in ("le", "gt"):
        side, outside = "le", bound + 4 * _tol(bound)
    elif comparison in ("ge", "lt"):
        side, outside = "ge", bound - 4 * _tol(bound)
    else:
        raise ValueError(f"cannot compare numbers with {comparison!r}")
    inside = bound  # within; `outside` is not: halve the gap down to neighbouring floats
    while True:
        middle = (inside + outside) / 2
        if middle == inside or middle == outside:
            return inside
        if compare(middle, bound, side):
            inside = middle
        else:
            outside = middle


def integer_range(bound: float, comparison: str) -> tuple[int | None, int | None]:
    """The whole numbers n with ``engine.compare(n, bound, comparison)``: (lowest, highest), None if open."""
    if comparison == "eq":
        return integer_range(bound, "ge")[0], integer_range(bound, "le")[1]
    at = edge(bound, comparison)
    return {"le": (None, math.floor(at)), "gt": (math.floor(at) + 1, None),
            "ge": (math.ceil(at), None), "lt": (None, math.ceil(at) - 1)}[comparison]


def sql_compare(value: ColumnElement, bound: float, comparison: str, integer: bool = False) -> ColumnElement:
    """``engine.compare(value, bound, comparison)`` for an SQL value and a constant bound: one comparison
    with the exact edge (``integer``: a whole-number value, compared with whole numbers)."""
    if integer:
        low, high = integer_range(bound, comparison)
        return and_(*([] if low is None else [value >= low]), *([] if high is None else [value <= high]))
    if comparison == "eq":
        return and_(sql_compare(value, bound, "ge"), sql_compare(value, bound, "le"))
    at = edge(bound, comparison)
    return {"le": value <= at, "gt": value > at, "ge": value >= at, "lt": value < at}[comparison]


def _int(cond: ColumnElement) -> ColumnElement:
    return case((cond, 1), else_=0)


def _type_table(catalog: Catalog):
    """What the rules say of each school type, one row per type (joined to every school row)."""
    rules = catalog.rules
    g4 = next((i for i in catalog.indicators if i.code == "G4" and i.scope == "school"), None)
    rows = []
    for t in SCHOOL_TYPES:
        weights = {SINGLE_LEVEL_TYPES[t]: 1.0} if t in SINGLE_LEVEL_TYPES else dict(rules.split_weights.get(t, {}))
        levels = type_levels(t)
        always = any(e.school_type == t and e.below_pupils is None for e in rules.exclusions)
        below = max((e.below_pupils for e in rules.exclusions if e.school_type == t and e.below_pupils is not None),
                    default=None)
        g4_bound = None
        if g4 is not None:
            g4_bound = g4.thresholds.get(t) if g4.thresholds else g4.threshold
        g4_low, g4_high = (None, None) if g4_bound is None else integer_range(float(g4_bound), g4.comparison)
        rows.append({
            "school_type": t, "evaluable": int(bool(weights)), "multi": int(t in MULTI_LEVEL_TYPES),
            "w_primary": float(weights.get("primary", 0.0)), "w_junior": float(weights.get("junior", 0.0)),
            "w_senior": float(weights.get("senior", 0.0)),
            "allow_primary": int("primary" in weights), "allow_junior": int("junior" in weights),
            "allow_senior": int("senior" in weights),
            "teach_primary": int("primary" in levels), "teach_junior": int("junior" in levels),
            "in_scope": int(bool(levels)), "excl_always": int(always), "excl_below": below,
            "g4_bounded": int(g4_bound is not None), "g4_low": g4_low, "g4_high": g4_high,
        })
    keys = list(rows[0])
    sql_types = {k: "VARCHAR(16)" if k == "school_type" else "FLOAT" if k.startswith("w_") else "INTEGER" for k in keys}
    types = {"VARCHAR(16)": String(16), "FLOAT": Float(), "INTEGER": Integer()}

    def constant(value, key: str, first: bool) -> str:
        if value is None:
            written = "NULL"
        elif isinstance(value, str):
            written = "'" + value.replace("'", "''") + "'"
        else:
            written = repr(float(value)) if sql_types[key] == "FLOAT" else str(int(value))
        # the first row's casts give each column its type (a float, not a numeric, on PostgreSQL)
        return f"CAST({written} AS {sql_types[key]})" if first else written

    # one VALUES list (a single scan to plan), its columns named column1… on both backends
    values = ", ".join("(" + ", ".join(constant(r[k], k, i == 0) for k in keys) + ")" for i, r in enumerate(rows))
    names = ", ".join(f"column{i} AS {k}" for i, k in enumerate(keys, 1))
    return (text(f"SELECT {names} FROM (VALUES {values}) AS type_rules")
            .columns(*[column(k, types[sql_types[k]]) for k in keys]).subquery("school_types"))


def _school_facts(catalog: Catalog, t) -> list[ColumnElement]:
    """Layer 1, one row per school, each figure computed once: which parts it has, whether it is left out, the
    share of the shared totals each part gets, the figures G4/G5 judge, and ``bad``."""
    sy = SchoolYear
    pupils = {"primary": sy.primary_pupils, "junior": sy.junior_pupils}
    senior = func.coalesce(sy.senior_pupils, 0)
    compulsory = sy.primary_pupils + sy.junior_pupils
    present = {lvl: and_(t.c[f"teach_{lvl}"] == 1, pupils[lvl] > 0) for lvl in LEVELS}
    excluded = or_(t.c.excl_always == 1, and_(t.c.excl_below.is_not(None), compulsory < t.c.excl_below))
    denominator = (cast(pupils["primary"], Float) * t.c.w_primary + cast(pupils["junior"], Float) * t.c.w_junior
                   + cast(senior, Float) * t.c.w_senior)
    cols: list[ColumnElement] = [sy.unit_id, *[getattr(sy, total) for total in TOTAL_FIELDS],
                                 sy.max_class_size_primary, sy.max_class_size_junior, compulsory.label("compulsory")]
    for lvl in LEVELS:
        p = cast(pupils[lvl], Float)
        # engine.split_school: a share p·w / Σ p·w of the shared totals (1.0 for a single-level school)
        share = case((t.c.multi == 1, p * t.c[f"w_{lvl}"] / case((denominator > 0, denominator), else_=None)),
                     else_=literal(1.0))
        cols += [case((and_(present[lvl], not_(excluded)), p), else_=None).label(f"{lvl}_p"), share.label(f"{lvl}_share"),
                 _int(present[lvl]).label(f"{lvl}_present")]
    cols.append(_int(and_(t.c.school_type.is_not(None), excluded)).label("excluded"))
    # G4/G5 look at every school teaching a compulsory level and having pupils, excluded or not
    cols.append(_int(and_(t.c.in_scope == 1, compulsory > 0)).label("in_scope"))
    for ind in catalog.indicators:
        if ind.scope != "school":
            continue
        if ind.code == "G4":  # the type's whole-number range of pupils (integer_range)
            ok = and_(or_(t.c.g4_low.is_(None), compulsory >= t.c.g4_low), or_(t.c.g4_high.is_(None), compulsory <= t.c.g4_high))
            cols += [t.c.g4_bounded, _int(ok).label("g4_ok")]
        elif ind.code == "G5":
            # the one figure judged when the school does not give both levels' maxima
            per = {"primary": sy.max_class_size_primary, "junior": sy.max_class_size_junior}
            one = {"primary": and_(present["primary"], not_(present["junior"])),
                   "junior": and_(present["junior"], not_(present["primary"]))}
            cols.append(case(*[(and_(one[lvl], per[lvl].is_not(None)), per[lvl]) for lvl in LEVELS],
                             else_=sy.max_class_size).label("g5_value"))
            # both levels' maxima judged apart when a school teaching both gives them
            cols.append(_int(and_(present["primary"], present["junior"], *[per[lvl].is_not(None) for lvl in LEVELS]))
                        .label("g5_split"))
        else:
            raise ValueError(f"{ind.code}: the engine cannot derive this indicator from school rows")
    cols.append(_int(_refused(t, excluded, present, senior)).label("bad"))
    return cols


def _school_parts(catalog: Catalog, f) -> list[ColumnElement]:
    """Layer 2, from layer 1's columns: each part's pupils and R1–R7 values, and the G4/G5 counts."""
    cols: list[ColumnElement] = [f.unit_id, f.excluded, f.bad]
    for lvl in LEVELS:
        cols.append(f[f"{lvl}_p"])
        for code, (total, per) in RESOURCE_MEASURES.items():  # then engine.school_values
            value = f[total] * f[f"{lvl}_share"] / f[f"{lvl}_p"]
            cols.append((value * per if per != 1 else value).label(f"{lvl}_{code}"))  # × 1 changes no float
    in_scope = f.in_scope == 1
    for ind in catalog.indicators:
        if ind.scope != "school":
            continue
        if ind.code == "G4":
            checked = and_(in_scope, f.g4_bounded == 1)
            cols += [_int(checked).label("G4_n"), _int(and_(checked, f.g4_ok == 0)).label("G4_false"),
                     literal(0).label("G4_none"), case((checked, f.compulsory), else_=None).label("G4_max")]
        elif ind.code == "G5":
            cols += _class_columns(ind, f)
    return cols


def _class_columns(ind: Indicator, f) -> list[ColumnElement]:
    """engine._class_size_checks: both levels' maxima when a two-level school gives both, else one figure
    whose verdict is True within every level's limit, False within none, undecidable in between."""
    per = {"primary": f.max_class_size_primary, "junior": f.max_class_size_junior}
    limit = {lvl: float(ind.threshold_for(lvl)) for lvl in LEVELS}
    no_one_figure = or_(f.in_scope != 1, f.g5_split == 1)  # not in scope, or both maxima judged apart
    # the one figure: how many of the school's levels it breaks, out of how many it teaches
    breaks = sum(f[f"{lvl}_present"] * _int(not_(sql_compare(f.g5_value, limit[lvl], ind.comparison, integer=True)))
                 for lvl in LEVELS)
    taught = f.primary_present + f.junior_present
    return [
        case((f.in_scope != 1, 0), (f.g5_split == 1, 2), else_=1).label("G5_n"),
        case((f.in_scope != 1, 0),
             (f.g5_split == 1, sum(_int(not_(sql_compare(per[lvl], limit[lvl], ind.comparison, integer=True)))
                                   for lvl in LEVELS)),
             else_=_int(breaks == taught)).label("G5_false"),  # False only if it breaks every level's limit
        case((no_one_figure, 0), else_=breaks * (taught - breaks)).label("G5_none"),  # 1 when it breaks one of two
        case((f.in_scope != 1, None),
             (f.g5_split == 1, case((per["primary"] >= per["junior"], per["primary"]), else_=per["junior"])),
             else_=f.g5_value).label("G5_max"),
    ]


def _refused(t, excluded, present, senior) -> ColumnElement:
    """A school `engine.evaluate_county` would raise ValueError on."""
    sy = SchoolYear
    figures = []
    for name in TOTAL_FIELDS:  # not negative, not NaN, not infinite (NaN sorts above every number on PostgreSQL)
        col = getattr(sy, name)
        figures.append(not_(and_(col >= 0, col < 1e308)))
    figures += [getattr(sy, name) < 0 for name in _INT_FIELDS]
    stray = or_(and_(t.c.allow_primary == 0, sy.primary_pupils > 0), and_(t.c.allow_junior == 0, sy.junior_pupils > 0),
                and_(t.c.allow_senior == 0, senior > 0))
    evaluated_wrongly = and_(not_(excluded), or_(
        t.c.evaluable == 0, stray, not_(or_(present["primary"], present["junior"])),
        and_(t.c.allow_senior == 1, sy.senior_pupils.is_(None))))
    return or_(t.c.school_type.is_(None), *figures, evaluated_wrongly)


def county_sums(catalog: Catalog, year: int, unit_ids=None, prelude: str = "") -> dict[int, CountySums]:
    """Every county's sums and counts for the year (those of `unit_ids` only if given), keyed by unit id.

    ``prelude``: statements sent in the same round trip just before (on PostgreSQL: the transaction's
    settings).
    """
    connection = db.session.connection()
    sql = _sql(catalog, connection.dialect, unit_ids is not None).replace(_YEAR, str(int(year)))
    if unit_ids is not None:
        sql = sql.replace(_UNITS, ",".join(str(int(u)) for u in unit_ids) or "NULL")
    cursor = connection.connection.cursor()
    try:
        # no parameters: the year and unit ids are integers written in
        if prelude:
            cursor.execute(f"{prelude}; {sql}")
            while cursor.nextset():  # to the last result: the statement's
                pass
        else:
            cursor.execute(sql)
        return county_rows([d[0] for d in cursor.description], cursor.fetchall())
    finally:
        cursor.close()


_YEAR, _UNITS = "__year__", "__units__"
_SQL: dict[tuple, str] = {}


def _sql(catalog: Catalog, dialect, scoped: bool) -> str:
    """The statement's text for these rules and thresholds, rendered once with its constants written in.

    Building, keying and rendering 40 kB of SQL (and the driver scanning it for parameters) took ~15 ms a
    run, as long as the aggregate itself at a hundred counties.
    """
    rules = catalog.rules
    key = (dialect.name, scoped, rules.min_met, rules.floor_ratio,
           tuple((e.school_type, e.below_pupils) for e in rules.exclusions),
           tuple((t, tuple(sorted(w.items()))) for t, w in sorted(rules.split_weights.items())),
           tuple((i.code, i.aspect, i.scope, i.comparison, i.threshold, tuple(sorted((i.thresholds or {}).items())))
                 for i in catalog.indicators))
    sql = _SQL.get(key)
    if sql is None:
        stmt = aggregate_statement(catalog, literal_column(_YEAR),
                                   literal_column(f"({_UNITS})") if scoped else None)
        sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True, "render_postcompile": True}))
        if dialect.paramstyle in ("format", "pyformat"):
            sql = sql.replace("%%", "%")  # the modulo operator, escaped for a driver that takes no parameters here
        if dialect.name == "sqlite":  # the fence's OFFSET 0 needs a LIMIT, which SQLite's compiler leaves a parameter
            sql = sql.replace("LIMIT ? OFFSET 0", "LIMIT -1 OFFSET 0")
        if len(_SQL) > 16:
            _SQL.clear()
        _SQL[key] = sql
    return sql


def aggregate_statement(catalog: Catalog, year: ColumnElement, units: ColumnElement | None = None) -> Any:
    """The sums and counts `county_result` needs, one pass over the year's rows; rows of (unit_id, level, …).

    ``year``: the year as an SQL expression; ``units``: if given, an SQL expression for the unit ids to read.

    ``level`` is 0 (primary) or 1 (junior) for a level's sums, -1 for the county's school-derived figures.
    The school rows are read once (`_school_facts`, then `_school_parts` into a common table); its primary and
    junior parts are grouped first by county, level and pattern of verdicts (which of R1–R7 a part meets,
    whether one falls below the floor), so each comparison runs once per part; the patterns then give the
    failing parts and, per indicator, the failing parts short of it.
    """
    rules = catalog.rules
    resource = catalog.resource_indicators
    t = _type_table(catalog)
    where = [SchoolYear.year == year]
    if units is not None:
        where.append(SchoolYear.unit_id.op("IN")(units))
    facts = (select(*_school_facts(catalog, t)).select_from(SchoolYear)
             .outerjoin(t, t.c.school_type == SchoolYear.school_type).where(*where)
             .offset(0)  # an optimisation fence: each fact computed once per row, not in every expression reading it
             .subquery("school_facts"))
    schools = select(*_school_parts(catalog, facts.c)).cte("schools")  # read three times: materialised once
    c = schools.c
    grouped = []
    for index, lvl in enumerate(LEVELS):
        p = c[f"{lvl}_p"]
        x = {ind.code: c[f"{lvl}_{ind.code}"] for ind in resource}
        mask = sum(_int(sql_compare(x[ind.code], ind.threshold_for(lvl), "ge")) * (1 << k) for k, ind in enumerate(resource))
        below = _int(or_(*[not_(sql_compare(x[ind.code], rules.floor_ratio * ind.threshold_for(lvl), "ge"))
                          for ind in resource]))
        sums = []
        for ind in resource:
            sums += [func.sum(p * x[ind.code]).label(f"{ind.code}_sx"), func.sum(p * x[ind.code] * x[ind.code]).label(f"{ind.code}_sxx")]
        grouped.append(select(c.unit_id, literal(index).label("level"), mask.label("mask"), below.label("below"),
                              func.count().label("n"), func.sum(p).label("pupils"), *sums)
                       .where(p.is_not(None)).group_by(c.unit_id, mask, below))
    patterns = union_all(*grouped).subquery("patterns")
    g = patterns.c
    # a pattern fails with a value below the floor or fewer than min_met indicators met: the masks meeting
    # enough are few (8 of 128 for 6 of 7), written out
    enough = [m for m in range(1 << len(resource)) if m.bit_count() >= rules.min_met]
    failing = or_(g.below == 1, g.mask.not_in(enough))
    count = lambda expr: cast(func.sum(expr), Integer)  # noqa: E731 — a sum of counts, an integer on every backend
    levels = select(g.unit_id, g.level, count(g.n).label("n"), func.sum(g.pupils).label("pupils"),
                    count(case((failing, g.n), else_=0)).label("fail"),
                    *[col for k, ind in enumerate(resource) for col in (
                        func.sum(g[f"{ind.code}_sx"]).label(f"{ind.code}_sx"),
                        func.sum(g[f"{ind.code}_sxx"]).label(f"{ind.code}_sxx"),
                        count(case((and_(failing, (g.mask // (1 << k)) % 2 == 0), g.n), else_=0)).label(f"{ind.code}_block"))],
                    ).group_by(g.unit_id, g.level)
    school_items = [ind for ind in catalog.indicators if ind.scope == "school"]
    pad = [literal(None).label(name) for name in ["n", "pupils", "fail"] + [
        f"{ind.code}_{k}" for ind in resource for k in ("sx", "sxx", "block")]]
    levels = levels.add_columns(*[literal(None).label(f"{ind.code}_{k}") for ind in school_items
                                  for k in ("n", "false", "none", "max")],
                                literal(None).label("schools"), literal(None).label("excluded"), literal(None).label("bad"))
    county = select(c.unit_id, literal(-1).label("level"), *pad,
                    *[func.sum(c[f"{ind.code}_{k}"]) if k != "max" else func.max(c[f"{ind.code}_max"])
                      for ind in school_items for k in ("n", "false", "none", "max")],
                    func.count(), func.sum(c.excluded), func.sum(c.bad)).group_by(c.unit_id)
    return union_all(levels, county)


class CountySums:
    """One county's rows of the aggregate as they come: per level its tuple of sums (none without that level)
    and the county's own figures; ``at`` gives a column's position (the statement's columns, shared)."""
    __slots__ = ("at", "levels", "own")

    def __init__(self, at: Mapping[str, int]):
        self.at = at
        self.levels: dict[str, tuple] = {}
        self.own: tuple = ()

    def __getitem__(self, key: str) -> Any:
        """A county-wide figure: ``schools``, ``excluded``, ``bad`` or a G4/G5 count."""
        return self.own[self.at[key]]


def county_rows(keys: list[str], rows) -> dict[int, CountySums]:
    """The statement's rows (tuples in the order of `keys`) grouped by county, as `county_result` reads them."""
    at = {k: i for i, k in enumerate(keys)}
    out: dict[int, CountySums] = {}
    for row in rows:
        sums = out.get(row[0])
        if sums is None:
            sums = out[row[0]] = CountySums(at)
        if row[1] < 0:
            sums.own = row
        else:
            sums.levels[LEVELS[row[1]]] = row
    return out


def _level(sums: CountySums, level: str, catalog: Catalog) -> dict[str, Any]:
    row = sums.levels.get(level)
    n = row[sums.at["n"]] if row is not None else 0
    if not n:
        return {"indicators": {}, "pass": None, "school_count": 0, "failing_schools": 0, "blocking": {}}
    at = sums.at
    total = float(row[at["pupils"]])
    indicators, blocking = {}, {}
    passed = True
    sqrt = math.sqrt
    for code, sx, sxx, block, limit, bound in _specs(catalog, level):
        mean = row[at[sx]] / total
        square = mean * mean
        variance = row[at[sxx]] / total - square
        # Σ P·X² / P − X̄² equals the engine's Σ (Pᵢ/P)(Xᵢ − X̄)² up to rounding; a tiny negative is a zero
        # (within _tol(X̄²), written out: this runs for every indicator of every county)
        sd = sqrt(variance) if variance > max(_REL * square, _ABS) else 0.0
        cv = sd / mean if mean else 0.0
        ok = cv <= bound  # engine.compare(cv, limit, "le")
        passed = passed and ok
        indicators[code] = {"mean": round(mean, OUTPUT_DECIMALS), "sd": round(sd, OUTPUT_DECIMALS),
                            "cv": round(cv, OUTPUT_DECIMALS), "limit": limit, "pass": ok}
        blocking[code] = row[at[block]] or 0
    failing = row[at["fail"]] or 0
    return {"indicators": indicators, "pass": not failing and passed, "school_count": n, "failing_schools": failing,
            "blocking": blocking}


_SPECS: dict[tuple, tuple] = {}


def _specs(catalog: Catalog, level: str) -> tuple[tuple, ...]:
    """Per resource indicator of the level: its code, the columns of its sums, its CV limit (as stored) and
    the largest CV within it (``compare(cv, limit, "le")`` is ``cv <= bound``)."""
    key = (id(catalog), level)
    found = _SPECS.get(key)
    if found is None or found[0] is not catalog:
        if len(_SPECS) > 32:
            _SPECS.clear()
        specs = []
        for ind in catalog.resource_indicators:
            limit = ind.cv_limit[level]
            specs.append((ind.code, f"{ind.code}_sx", f"{ind.code}_sxx", f"{ind.code}_block",
                          round(limit, OUTPUT_DECIMALS), edge(limit, "le")))
        found = _SPECS[key] = (catalog, tuple(specs))
    return found[1]


def _school_item(sums: CountySums, ind: Indicator) -> dict[str, Any]:
    n, false, none = (int(sums[f"{ind.code}_{k}"] or 0) for k in ("n", "false", "none"))
    passed = None if not n else (False if false else None if none else True)
    return {"value": sums[f"{ind.code}_max"], "pass": passed, "missing": not n or none > 0, "failing_schools": false + none}


def county_result(county: str, year: int, row: CountySums, entries: Mapping[str, Any],
                  catalog: Catalog) -> dict[str, Any]:
    """A county's result from its aggregate row: `results.compact(engine.evaluate_county(...))`, unrounded
    sums aside. Raises ValueError on county entries the engine would refuse."""
    levels = {lvl: _level(row, lvl, catalog) for lvl in LEVELS}
    aspects, passed, assessable = verdicts(
        levels, county_aspects(entries, catalog, lambda ind: _school_item(row, ind), compact=True))
    return {"county": county, "year": year, "levels": levels, "resource_allocation_pass": aspects["resource"]["pass"],
            "aspects": aspects, "pass": passed, "assessable": assessable,
            "excluded_count": int(row["excluded"] or 0), "detail": False}


