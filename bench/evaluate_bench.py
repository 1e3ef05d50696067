#!/usr/bin/env python
"""Evaluating every county for a year (the app's function) vs ONE SQL aggregate of the same per-county sums.

    .venv/bin/python bench/evaluate_bench.py                       # 100 and 1,000 counties, SQLite and PostgreSQL
    .venv/bin/python bench/evaluate_bench.py --sizes 100,1000,2900 --no-sqlite

Data: tracker/demo/generate.py at N counties, ~69 schools per county (the national ratio 200,000 / 2,900),
one school year. Timed, in the same run on the same database:

* ``app``      for every county: tracker.indicators.operations.evaluate(unit, year, catalog=catalog) — one
               query for the county's school rows, the engine (split, per-school compliance, weighted CVs,
               aspects), storing the CountyEvaluation and applying it to the county's linked tasks; then a
               flush. Rolled back after each run so every run starts from the same state.
* ``engine``   the same without storing: school_rows + engine.evaluate_county (for information).
* ``baseline`` one ``SELECT unit_id, count(*), sum(...) … FROM school_years WHERE year = :y GROUP BY unit_id``
               computing the per-county sums of every numeric column the evaluation reads.

The ratio app / baseline is the figure (target ≤ 3×); µs per county shows the growth with size.
"""
from __future__ import annotations

import argparse
import sys
import tempfile

from _common import TODAY, add_common_args, backends, best, dispose, generate_data, log, make_app, migrate, \
    parse_sizes, scratch, table
from sqlalchemy import select, text

YEAR = TODAY.year - 1
SUM_COLUMNS = ("primary_pupils", "junior_pupils", "senior_pupils", "qualified_teachers", "backbone_teachers",
               "pe_art_teachers", "building_area", "sports_area", "equipment_value", "multimedia_rooms",
               "class_count", "max_class_size")
BASELINE_SQL = ("SELECT unit_id, count(*) AS schools, "
                + ", ".join(f"sum({c}) AS {c}" for c in SUM_COLUMNS)
                + " FROM school_years WHERE year = :year GROUP BY unit_id")


def run_size(backend: str, counties: int, repeat: int, tmp: str, pg_url: str) -> dict:
    from tracker.extensions import db
    from tracker.indicators import operations as ops
    from tracker.indicators import store
    from tracker.indicators.engine import evaluate_county
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

            def baseline():
                rows = db.session.execute(text(BASELINE_SQL), {"year": YEAR}).all()
                db.session.rollback()
                return rows

            def app_run():
                n = 0
                for unit in units:
                    ops.evaluate(unit, YEAR, catalog=catalog)
                    n += 1
                db.session.flush()
                db.session.rollback()
                return n

            def engine_run():
                out = [evaluate_county(u.name, YEAR, ops.school_rows(u, YEAR), {}, catalog)["pass"] for u in units]
                db.session.rollback()
                return len(out)

            base_s, rows = best(baseline, repeat + 2)
            assert len(rows) == len(units), (len(rows), len(units))
            assert sum(r.schools for r in rows) == gen["schools"]
            # the evaluation sees the same schools as the aggregate: check a county's pupils
            sample = units[len(units) // 2]
            pupils = sum(s.primary_pupils + s.junior_pupils for s in ops.school_rows(sample, YEAR))
            agg = next(r for r in rows if r.unit_id == sample.id)
            assert pupils == agg.primary_pupils + agg.junior_pupils
            app_s, n = best(app_run, repeat)
            engine_s, _ = best(engine_run, repeat)
            units = [u for u in units]  # keep loaded
        dispose(app)
    result = {"fixed_rows": fixed, "backend": backend, "counties": counties, "schools": gen["schools"], "baseline_s": base_s,
              "app_s": app_s, "engine_s": engine_s, "ratio": app_s / base_s, "engine_ratio": engine_s / base_s,
              "us_per_county": app_s / n * 1e6, "base_us_per_county": base_s / n * 1e6}
    log(f"  {backend} {counties}: baseline {base_s:.4f}s, app {app_s:.3f}s ({result['ratio']:.1f}×), engine {engine_s:.3f}s")
    return result


COLUMNS = [("backend", "backend", ""), ("counties", "counties", "d"), ("schools", "schools", "d"),
           ("baseline_s", "SQL aggregate s", ".4f"), ("app_s", "evaluate all s", ".3f"), ("ratio", "ratio", ".1f"),
           ("engine_s", "engine only s", ".3f"), ("engine_ratio", "engine ratio", ".1f"),
           ("us_per_county", "µs/county (app)", ".0f"), ("base_us_per_county", "µs/county (SQL)", ".0f")]


def growth(results: list[dict]) -> list[str]:
    lines = []
    for backend in sorted({r["backend"] for r in results}):
        rows = [r for r in results if r["backend"] == backend]
        if len(rows) > 1:
            lines.append(f"{backend}: app µs per county " + " → ".join(f"{r['us_per_county']:.0f}" for r in rows)
                         + f" at {' / '.join(str(r['counties']) for r in rows)} counties; SQL µs per county "
                         + " → ".join(f"{r['base_us_per_county']:.1f}" for r in rows)
                         + f"; ratio " + " → ".join(f"{r['ratio']:.1f}×" for r in rows))
    return lines


def main(argv=None) -> tuple[list[dict], str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "100,1000")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="eval-bench-") as tmp:
        for backend in backends(args):
            for n in parse_sizes(args.sizes):
                results.append(run_size(backend, n, args.repeat, tmp, args.pg_url))
    out = table(results, COLUMNS) + "\n\n" + "\n".join(f"- {g}" for g in growth(results))
    worst = max(r["ratio"] for r in results)
    out += f"\n- worst app/baseline ratio {worst:.1f}× (target ≤ 3×): {'met' if worst <= 3 else 'NOT met'}"
    print(out)
    return results, out


if __name__ == "__main__":
    main(sys.argv[1:])
