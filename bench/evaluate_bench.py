#!/usr/bin/env python
"""Evaluating every county for a year (the app's function) vs ONE SQL aggregate of the same sums.

    .venv/bin/python bench/evaluate_bench.py                       # 100 and 1,000 counties, SQLite and PostgreSQL
    .venv/bin/python bench/evaluate_bench.py --sizes 100,1000,2900 --no-sqlite
    .venv/bin/python bench/evaluate_bench.py --pg-only-sizes 2900  # adds a PostgreSQL-only row at 2,900

Data: tracker/demo/generate.py at N counties, ~69 schools per county (the national ratio 200,000 / 2,900),
one school year. Timed, in the same run on the same database:

* ``app``      tracker.indicators.operations.evaluate_all(year, catalog=catalog): every county at once — the
               county list, entries, stored verdicts and linked tasks; ONE aggregate over the year's school
               rows (tracker/indicators/sqlengine.py: split schools, per-school compliance, the weighted sums
               of R1–R7 per level, G4/G5); each county's result and verdicts in Python; one upsert of every
               CountyEvaluation; the effects on linked tasks set-based; then a flush. Rolled back after each
               run so every run starts from the same state. Its own timings split this into phases.
* ``per county`` the loop the app used before: tracker.indicators.operations.evaluate(unit, year) for every
               county (one query for its rows, the engine school by school, store, effects), once.
* ``baseline`` ONE hand-written SQL aggregate (``CV_SUMS_SQL``) of the sums the coefficients of variation are
               computed from: schools left out as the standard says, schools spanning levels split by pupils ×
               weight, per county and level Σ P, Σ P·X and Σ P·X² of R1–R7 (the weighted mean and CV follow).
* ``every sum`` (``SAME_SUMS_SQL``) the baseline plus everything else the verdicts count — per level the
               schools failing the 6-of-7 rule and per indicator those of them short of it, per county the
               schools left out and the G4/G5 failures — written the plain way (a CTE per step); checked
               against the engine on three counties before timing. ``column sums`` Σ of every numeric column per
               county (no split, no per-pupil values). Both for scale.

The ratio app / baseline is the figure (target ≤ 3×); µs per county shows the growth with size. Before
timing, three counties are evaluated both ways and their stored results compared (evaluate_all stores the
compact form of what the engine gives, tracker/indicators/results.py; figures equal to four decimals).
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile

from _common import TODAY, add_common_args, backends, best, dispose, generate_data, log, make_app, migrate, \
    parse_sizes, scratch, table
from sqlalchemy import select, text

YEAR = TODAY.year - 1
SUM_COLUMNS = ("primary_pupils", "junior_pupils", "senior_pupils", "qualified_teachers", "backbone_teachers",
               "pe_art_teachers", "building_area", "sports_area", "equipment_value", "multimedia_rooms",
               "class_count", "max_class_size")
COLUMN_SUMS_SQL = ("SELECT unit_id, count(*) AS schools, "
                   + ", ".join(f"sum({c}) AS {c}" for c in SUM_COLUMNS)
                   + " FROM school_years WHERE year = :year GROUP BY unit_id")
_PER = (100, 100, 100, 1, 1, 1, 100)
_LIMITS = {0: (4.2, 1.0, 0.9, 4.5, 7.5, 2000, 2.3), 1: (5.3, 1.0, 0.9, 5.8, 10.2, 2500, 2.4)}  # R1–R7 per level
_SCHOOLS = """
  SELECT unit_id, school_type, CAST(primary_pupils AS FLOAT) AS pp, CAST(junior_pupils AS FLOAT) AS jp,
         CAST(COALESCE(senior_pupils, 0) AS FLOAT) AS sp, primary_pupils + junior_pupils AS pupils,
         max_class_size AS mcs, max_class_size_primary AS mcs_p, max_class_size_junior AS mcs_j,
         qualified_teachers AS t1, backbone_teachers AS t2, pe_art_teachers AS t3, building_area AS t4,
         sports_area AS t5, equipment_value AS t6, multimedia_rooms AS t7,
         CASE WHEN school_type IN ('特殊教育', '职业学校')
                OR (school_type = '教学点' AND primary_pupils + junior_pupils < 50) THEN 1 ELSE 0 END AS excluded
  FROM school_years WHERE year = :year"""
_PARTS = """
  SELECT unit_id, 0 AS level, pp AS p, CASE school_type WHEN '九年一贯制' THEN pp / (pp + jp * 1.1)
                                                  WHEN '十二年一贯制' THEN pp / (pp + jp * 1.1 + sp * 1.32)
                                                  ELSE 1.0 END AS share, t1, t2, t3, t4, t5, t6, t7
  FROM s WHERE excluded = 0 AND school_type IN ('小学', '教学点', '九年一贯制', '十二年一贯制') AND pp > 0
  UNION ALL
  SELECT unit_id, 1, jp, CASE school_type WHEN '九年一贯制' THEN jp * 1.1 / (pp + jp * 1.1)
                                     WHEN '完全中学' THEN jp / (jp + sp * 1.2)
                                     WHEN '十二年一贯制' THEN jp * 1.1 / (pp + jp * 1.1 + sp * 1.32)
                                     ELSE 1.0 END, t1, t2, t3, t4, t5, t6, t7
  FROM s WHERE excluded = 0 AND school_type IN ('初中', '九年一贯制', '完全中学', '十二年一贯制') AND jp > 0"""
_VALUES = ", ".join(f"t{k} * share / p * {per} AS x{k}" for k, per in enumerate(_PER, 1))
_SUMS = ", ".join(f"sum(p * x{k}) AS sx{k}, sum(p * x{k} * x{k}) AS sxx{k}" for k in range(1, 8))
#: the sums behind the CVs only: Σ P, Σ P·X, Σ P·X² of R1–R7 per county and level (the split weights and
#: exclusions of data/indicators.yaml written out by hand)
CV_SUMS_SQL = f"""
WITH s AS ({_SCHOOLS}), parts AS ({_PARTS}), values_ AS (SELECT unit_id, level, p, {_VALUES} FROM parts)
SELECT unit_id, level, count(*) AS schools, sum(p) AS pupils, {_SUMS}
FROM values_ GROUP BY unit_id, level
"""


def _limit(k: int, factor: float = 1.0) -> str:
    """Level k's requirement × factor, less the engine's tolerance (equal within a relative 1e-9 counts as met)."""
    low = [round(_LIMITS[level][k - 1] * factor * (1 - 1e-9), 12) for level in (0, 1)]
    return f"CASE level WHEN 0 THEN {low[0]!r} ELSE {low[1]!r} END"


_MET = ", ".join(f"CASE WHEN x{k} >= {_limit(k)} THEN 1 ELSE 0 END AS m{k}" for k in range(1, 8))
_BELOW = " OR ".join(f"x{k} < {_limit(k, 0.85)}" for k in range(1, 8))
_TEACH_P = "school_type IN ('小学', '教学点', '九年一贯制', '十二年一贯制') AND pp > 0"
_TEACH_J = "school_type IN ('初中', '九年一贯制', '完全中学', '十二年一贯制') AND jp > 0"
_IN_SCOPE = "school_type NOT IN ('特殊教育', '职业学校') AND pupils > 0"
_SPLIT = f"{_TEACH_P} AND {_TEACH_J} AND mcs_p IS NOT NULL AND mcs_j IS NOT NULL"
_ONE = (f"CASE WHEN ({_TEACH_P}) AND NOT ({_TEACH_J}) AND mcs_p IS NOT NULL THEN mcs_p "
        f"WHEN ({_TEACH_J}) AND NOT ({_TEACH_P}) AND mcs_j IS NOT NULL THEN mcs_j ELSE mcs END")
#: every sum the verdicts are drawn from, as the standard reads: the CV sums, per county and level the schools
#: failing the 6-of-7 rule (or below 85 % of a requirement) and per indicator those of them short of it; per
#: county the schools left out, G4 (size over 2000 / 2500 by type) and G5 (class size over 45 / 50, a school
#: spanning levels judged per level when it gives both maxima, undecidable between the two limits otherwise)
SAME_SUMS_SQL = f"""
WITH s AS ({_SCHOOLS}), parts AS ({_PARTS}),
values_ AS MATERIALIZED (SELECT unit_id, level, p, {_VALUES} FROM parts),
judged AS MATERIALIZED (SELECT unit_id, level, p, x1, x2, x3, x4, x5, x6, x7, {_MET},
                                CASE WHEN {_BELOW} THEN 1 ELSE 0 END AS below FROM values_),
failed AS (SELECT judged.*, CASE WHEN below = 1 OR m1 + m2 + m3 + m4 + m5 + m6 + m7 < 6 THEN 1 ELSE 0 END AS fail
           FROM judged)
SELECT unit_id, level, count(*) AS schools, sum(p) AS pupils, {_SUMS}, sum(fail) AS failing,
       {", ".join(f"sum(fail * (1 - m{k})) AS block{k}" for k in range(1, 8))},
       NULL AS excluded, NULL AS g4_n, NULL AS g4_false, NULL AS g4_max, NULL AS g5_n, NULL AS g5_false,
       NULL AS g5_none, NULL AS g5_max
FROM failed GROUP BY unit_id, level
UNION ALL
SELECT unit_id, -1, count(*), NULL, {", ".join(["NULL"] * 14)}, NULL, {", ".join(["NULL"] * 7)}, sum(excluded),
       sum(CASE WHEN {_IN_SCOPE} THEN 1 ELSE 0 END),
       sum(CASE WHEN {_IN_SCOPE} AND pupils > CASE WHEN school_type IN ('九年一贯制', '十二年一贯制') THEN 2500 ELSE 2000 END
                THEN 1 ELSE 0 END),
       max(CASE WHEN {_IN_SCOPE} THEN pupils END),
       sum(CASE WHEN NOT ({_IN_SCOPE}) THEN 0 WHEN {_SPLIT} THEN 2 ELSE 1 END),
       sum(CASE WHEN NOT ({_IN_SCOPE}) THEN 0
                WHEN {_SPLIT} THEN CASE WHEN mcs_p > 45 THEN 1 ELSE 0 END + CASE WHEN mcs_j > 50 THEN 1 ELSE 0 END
                WHEN ({_TEACH_P}) AND NOT ({_TEACH_J}) THEN CASE WHEN {_ONE} > 45 THEN 1 ELSE 0 END
                WHEN {_TEACH_J} THEN CASE WHEN {_ONE} > 50 THEN 1 ELSE 0 END
                ELSE 0 END),
       sum(CASE WHEN {_IN_SCOPE} AND {_TEACH_P} AND {_TEACH_J} AND NOT ({_SPLIT}) AND mcs > 45 AND mcs <= 50
                THEN 1 ELSE 0 END),
       max(CASE WHEN NOT ({_IN_SCOPE}) THEN NULL
                WHEN {_SPLIT} THEN CASE WHEN mcs_p >= mcs_j THEN mcs_p ELSE mcs_j END ELSE {_ONE} END)
FROM s GROUP BY unit_id
"""


def _same(have, want, path="result") -> None:
    if isinstance(want, dict):
        assert isinstance(have, dict) and set(have) == set(want), (path, set(have) ^ set(want))
        for key in want:
            _same(have[key], want[key], f"{path}.{key}")
    elif isinstance(want, float):
        assert math.isclose(have, want, rel_tol=1e-6, abs_tol=1.5e-4), (path, have, want)
    else:
        assert have == want, (path, have, want)


def _baseline_is_the_engine(rows, units, catalog, ops, evaluate_county) -> None:
    """The baseline's figures for three counties are the engine's: parts, pupils, failing schools, blocking
    schools, the CV of R6, schools left out, G4 and G5 failures."""
    for unit in (units[0], units[len(units) // 2], units[-1]):
        full = evaluate_county(unit.name, YEAR, ops.school_rows(unit, YEAR),
                               ops.evaluation_entries(unit, YEAR, catalog), catalog)
        mine = {r["level"]: r for r in rows if r["unit_id"] == unit.id}
        for level, body in full["levels"].items():
            agg = mine.get(("primary", "junior").index(level))
            if not body["schools"]:
                assert agg is None, (unit.code, level)
                continue
            assert agg["schools"] == len(body["schools"]) and agg["pupils"] == sum(s["pupils"] for s in body["schools"])
            failing = [s for s in body["schools"] if not s["pass"]]
            assert agg["failing"] == len(failing), (unit.code, level, agg["failing"], len(failing))
            for k in range(1, 8):
                short = sum(1 for s in failing if any(sf["code"] == f"R{k}" for sf in s["shortfalls"]))
                assert agg[f"block{k}"] == short, (unit.code, level, k)
            mean = agg["sx6"] / agg["pupils"]
            cv = math.sqrt(max(agg["sxx6"] / agg["pupils"] - mean * mean, 0)) / mean
            assert math.isclose(cv, body["indicators"]["R6"]["cv"], abs_tol=1e-4), (unit.code, level)
        county = mine[-1]
        items = full["aspects"]["guarantee"]["items"]
        assert county["excluded"] == len(full["excluded"])
        assert county["g4_false"] == sum(1 for s in items["G4"]["schools"] if s["pass"] is False)
        assert county["g5_false"] == sum(1 for s in items["G5"]["schools"] if s["pass"] is False)
        assert county["g5_none"] == sum(1 for s in items["G5"]["schools"] if s["pass"] is None)


def run_size(backend: str, counties: int, repeat: int, tmp: str, pg_url: str, per_county: bool = True) -> dict:
    from tracker.extensions import db
    from tracker.indicators import operations as ops
    from tracker.indicators import store
    from tracker.indicators.engine import evaluate_county
    from tracker.indicators.models import CountyEvaluation
    from tracker.indicators.results import compact
    from tracker.units.models import Unit

    with scratch(backend, tmp, f"eval{counties}", pg_url) as url:
        app = make_app(url, tmp)
        migrate(app)
        gen = generate_data(app, counties, counties * 69, years=1)
        log(f"  {backend} {counties} counties generated in {gen['seconds']:.1f}s ({gen['tasks']} tasks, {gen['schools']} schools)")
        with app.app_context():
            # tracker/demo/generate.py gives some 完全中学 primary pupils, which the engine rightly refuses
            # ("a 完全中学 cannot have primary pupils"); zero them in the scratch copy so every county evaluates.
            fixed = db.session.execute(text("UPDATE school_years SET primary_pupils = 0 "
                                            "WHERE school_type = '完全中学' AND primary_pupils > 0")).rowcount
            db.session.commit()
            units = list(db.session.scalars(select(Unit).where(Unit.kind == "county").order_by(Unit.code)))
            catalog = store.current_catalog()

            def query(sql):
                def run():
                    rows = db.session.execute(text(sql), {"year": YEAR}).mappings().all()
                    db.session.rollback()
                    return rows
                return run

            def app_run():
                summary = ops.evaluate_all(YEAR, catalog=catalog)
                db.session.flush()
                db.session.rollback()
                assert not summary["errors"], summary["errors"][:3]
                return summary

            def per_county_run():
                n = 0
                for unit in units:
                    ops.evaluate(unit, YEAR, catalog=catalog)
                    n += 1
                db.session.flush()
                db.session.rollback()
                return n

            def same_both_ways():
                picked = [units[0], units[len(units) // 2], units[-1]]
                ids = [u.id for u in picked]
                ops.evaluate_all(YEAR, catalog=catalog, unit_ids=ids)
                at_once = {r.unit_id: (r.result, r.passed, r.assessable) for r in db.session.scalars(
                    select(CountyEvaluation).where(CountyEvaluation.unit_id.in_(ids)))}
                db.session.rollback()
                for unit in picked:
                    row = ops.evaluate(unit, YEAR, catalog=catalog)
                    _same(at_once[unit.id][0], compact(row.result), unit.code)
                    assert at_once[unit.id][1:] == (row.passed, row.assessable), unit.code
                db.session.rollback()

            base_s, rows = best(query(CV_SUMS_SQL), repeat + 2)
            same_s, all_rows = best(query(SAME_SUMS_SQL), repeat + 2)
            sums_s, _rows = best(query(COLUMN_SUMS_SQL), repeat + 2)
            assert len({r["unit_id"] for r in rows}) == len(units), (len(rows), len(units))
            _baseline_is_the_engine(all_rows, units, catalog, ops, evaluate_county)
            every = {(r["unit_id"], r["level"]): r for r in all_rows if r["level"] >= 0}  # the baseline's sums are its sums
            assert len(every) == len(rows) and all(
                math.isclose(r[f"sxx{k}"], every[(r["unit_id"], r["level"])][f"sxx{k}"], rel_tol=1e-9)
                for r in rows for k in range(1, 8))
            same_both_ways()
            app_s, summary = best(app_run, repeat + 2)  # as many runs as each baseline query
            n = summary["counties"]
            assert n == len(units), (n, len(units))
            per_s = best(per_county_run, 1)[0] if per_county else None
        dispose(app)
    phases = summary["seconds"]
    result = {"fixed_rows": fixed, "backend": backend, "counties": counties, "schools": gen["schools"], "baseline_s": base_s,
              "column_sums_s": sums_s, "same_sums_s": same_s, "same_ratio": app_s / same_s, "app_s": app_s, "ratio": app_s / base_s, "per_county_s": per_s if per_s else "not run",
              "per_county_ratio": per_s / base_s if per_s else "not run",
              "load_s": phases["load"], "aggregate_s": phases["aggregate"], "results_s": phases["results"],
              "write_s": phases["write"], "effects_s": phases["effects"],
              "us_per_county": app_s / n * 1e6, "base_us_per_county": base_s / n * 1e6}
    log(f"  {backend} {counties}: baseline {base_s:.4f}s, app {app_s:.3f}s ({result['ratio']:.1f}×), "
        f"per county {per_s if per_s is None else round(per_s, 3)}s, phases {phases}")
    return result


COLUMNS = [("backend", "backend", ""), ("counties", "counties", "d"), ("schools", "schools", "d"),
           ("column_sums_s", "column sums s", ".4f"), ("same_sums_s", "every sum, naive SQL s", ".4f"),
           ("baseline_s", "CV sums (baseline) s", ".4f"), ("app_s", "evaluate_all s", ".3f"), ("ratio", "ratio", ".1f"),
           ("same_ratio", "÷ every sum", ".1f"),
           ("load_s", "of which: load s", ".3f"), ("aggregate_s", "aggregate s", ".3f"),
           ("results_s", "results+JSON+COPY s", ".3f"), ("write_s", "upsert s", ".3f"),
           ("effects_s", "effects s", ".3f"), ("per_county_s", "per-county loop s", ".2f"),
           ("per_county_ratio", "per-county ratio", ".1f"),
           ("us_per_county", "µs/county (app)", ".0f"), ("base_us_per_county", "µs/county (SQL)", ".0f")]


def growth(results: list[dict]) -> list[str]:
    lines = []
    for backend in sorted({r["backend"] for r in results}):
        rows = [r for r in results if r["backend"] == backend]
        if len(rows) > 1:
            lines.append(f"{backend}: app µs per county " + " → ".join(f"{r['us_per_county']:.0f}" for r in rows)
                         + f" at {' / '.join(str(r['counties']) for r in rows)} counties; SQL µs per county "
                         + " → ".join(f"{r['base_us_per_county']:.1f}" for r in rows)
                         + f"; ratio " + " → ".join(f"{r['ratio']:.1f}×" for r in rows)
                         + (f" (county-by-county loop: " + " → ".join(f"{r['per_county_ratio']:.1f}×" for r in rows) + ")"
                            if all(isinstance(r["per_county_ratio"], float) for r in rows) else ""))
    return lines


def main(argv=None) -> tuple[list[dict], str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "100,1000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--pg-only-sizes", default="", help="further county counts measured on PostgreSQL only")
    ap.add_argument("--no-per-county", action="store_true", help="skip timing the county-by-county loop")
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="eval-bench-") as tmp:
        for backend in backends(args):
            for n in parse_sizes(args.sizes):
                results.append(run_size(backend, n, args.repeat, tmp, args.pg_url, not args.no_per_county))
        if not args.no_pg:
            for n in parse_sizes(args.pg_only_sizes):
                results.append(run_size("postgresql", n, args.repeat, tmp, args.pg_url, not args.no_per_county))
    out = table(results, COLUMNS) + "\n\n" + "\n".join(f"- {g}" for g in growth(results))
    worst = max(r["ratio"] for r in results)
    out += f"\n- worst app/baseline ratio {worst:.1f}× (target ≤ 3×): {'met' if worst <= 3 else 'NOT met'}"
    print(out)
    return results, out


if __name__ == "__main__":
    main(sys.argv[1:])
