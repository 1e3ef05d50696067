#!/usr/bin/env python
"""Benchmark of the deadline sweep's selection + update against ONE hand-written set-based statement.

    .venv/bin/python bench/sweep_bench.py                      # 100k and 1M tasks, SQLite and PostgreSQL
    .venv/bin/python bench/sweep_bench.py --sizes 10000,100000 # quicker
    .venv/bin/python bench/sweep_bench.py --pg-url postgresql://postgres@127.0.0.1:5432/postgres --no-sqlite

For each backend and size it builds a scratch database (a temporary SQLite file; a PostgreSQL database
created and dropped by the script) through the real migrations, generates N tasks set-based (deadlines
spread over 60 days overdue … 400 days ahead, 1,000 units, 24 measures), ANALYZEs, then times, in the
same run and from the same starting state (each timed run is rolled back):

* ``sweep``    tracker.scheduler.sweep.plan_moves + apply_moves: one indexed SELECT, Python grouping,
               one guarded UPDATE … RETURNING per (from, to) group;
* ``baseline`` one UPDATE tasks SET ladder = CASE … WHERE <the same selection> RETURNING id;
* ``full``     the whole sweep job body (moves + audit rows + reminder selection; no users, so no
               notices), for information.

Two scenarios: ``cold`` (every ladder still 正常 — the first sweep after an import, the most rows
move) and ``daily`` (the ladders as the previous day's sweep left them — the usual hourly run).
Reported: best of --repeat runs, the ratio sweep/baseline (target ≤ 2×) and µs per task.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 1, 0)
UNITS, MEASURES, SPAN, BEHIND = 1000, 24, 460, 60


def make_app(url: str, instance: str):
    os.environ["TRACKER_INSTANCE"] = instance
    from tracker import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True})


def generate(db, n: int) -> None:
    """Plan, section, 24 measures, 1,000 units and n tasks, set-based (generate_series / recursive CTE)."""
    pg = db.engine.dialect.name == "postgresql"
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO plans (id, code, title, issuer, doc_number, preamble, extra) "
                          "VALUES (1, 'bench', '基准方案', '', '', '', '{}')"))
        conn.execute(text("INSERT INTO sections (id, plan_id, number, position, title, extra) "
                          "VALUES (1, 1, '一', 1, '部分', '{}')"))
        for i in range(1, MEASURES + 1):
            conn.execute(text("INSERT INTO measures (id, plan_id, section_id, number, position, title, text, groups, "
                              "indicators, extra) VALUES (:i, 1, 1, :n, :i, :t, '', '[]', '[]', '{}')"),
                         {"i": i, "n": str(i), "t": f"措施{i}"})
        conn.execute(text("INSERT INTO units (id, code, name, kind, aliases) VALUES " + ", ".join(
            f"({i}, 'U{i}', '单位{i}', '{'county' if i % 3 else 'department'}', '[]')" for i in range(1, UNITS + 1))))
        status = "CASE WHEN i % 10 = 0 THEN 'completed' WHEN i % 3 = 0 THEN 'in_progress' ELSE 'assigned' END"
        columns = ("plan_id, measure_id, unit_id, period, start_date, deadline, deadline_source, status, ladder, "
                   "is_lead, progress_percent, created_at, updated_at, version")
        if pg:
            sql = (f"INSERT INTO tasks ({columns}) SELECT 1, (i % {MEASURES}) + 1, (i % {UNITS}) + 1, "
                   f"CAST(i AS VARCHAR(16)), DATE '2026-01-01', "
                   f"DATE '{TODAY.isoformat()}' + CAST(((CAST(i AS BIGINT) * 7919) % {SPAN}) - {BEHIND} AS INTEGER), 'plan', {status}, 'normal', "
                   f"false, 0, :now, :now, 1 FROM generate_series(1, :n) AS g(i)")
        else:
            sql = (f"INSERT INTO tasks ({columns}) SELECT 1, (i % {MEASURES}) + 1, (i % {UNITS}) + 1, "
                   f"CAST(i AS TEXT), '2026-01-01', date('{TODAY.isoformat()}', "
                   f"(((i * 7919) % {SPAN}) - {BEHIND}) || ' days'), 'plan', {status}, 'normal', 0, 0, :now, :now, 1 "
                   f"FROM (WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) SELECT i FROM s)")
        conn.execute(text(sql), {"n": n, "now": NOW})
        conn.execute(text("ANALYZE"))


def baseline_sql(ranges) -> tuple[str, dict]:
    """The hand-written statement: the same selection and the same update, in one UPDATE."""
    r = ranges.ranges
    params = {"today": ranges.today, "ds_hi": r["due_soon"][1], "x_esc": r["escalated"][1], "x_int": r["interview"][1],
              "now": NOW, "s1": "assigned", "s2": "in_progress", "s3": "submitted", "s4": "returned"}
    sql = """
UPDATE tasks SET
  ladder = CASE WHEN deadline <= :x_int THEN 'interview' WHEN deadline <= :x_esc THEN 'escalated'
                WHEN deadline < :today THEN 'overdue' ELSE 'due_soon' END,
  version = version + 1, updated_at = :now
WHERE status IN (:s1, :s2, :s3, :s4) AND deadline <= :ds_hi AND (
     (deadline <= :x_int AND ladder IN ('normal', 'due_soon', 'overdue', 'escalated'))
  OR (deadline > :x_int AND deadline <= :x_esc AND ladder IN ('normal', 'due_soon', 'overdue'))
  OR (deadline > :x_esc AND deadline < :today AND ladder IN ('normal', 'due_soon'))
  OR (deadline >= :today AND deadline <= :ds_hi AND ladder = 'normal'))
RETURNING id"""
    return sql, params


def timed(db, fn, repeat: int) -> tuple[float, int]:
    """Best wall time of `repeat` runs, each rolled back so every run starts from the same state."""
    times, result = [], 0
    for _ in range(repeat):
        db.session.rollback()
        t0 = time.perf_counter()
        result = fn()
        db.session.flush()
        times.append(time.perf_counter() - t0)
        db.session.rollback()
    return min(times), result


def run_size(url: str, n: int, repeat: int, instance: str) -> list[dict]:
    app = make_app(url, instance)
    from flask_migrate import upgrade

    from tracker.extensions import db
    from tracker.notices.outbox import Audience
    from tracker.scheduler.sweep import LadderRanges, SweepContext, _move_ladder, _remind, apply_moves, plan_moves
    from workflows.policy import DEFAULT_POLICY

    out = []
    with app.app_context():
        logging.getLogger("alembic").setLevel(logging.WARNING)
        upgrade()
        t0 = time.perf_counter()
        generate(db, n)
        generate_s = time.perf_counter() - t0
        for scenario in ("cold", "daily"):
            if scenario == "daily":  # leave the ladders as yesterday's sweep did, committed
                sql, params = baseline_sql(LadderRanges.build(TODAY - timedelta(days=1), DEFAULT_POLICY))
                db.session.execute(text(sql), params)
                db.session.commit()
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            ranges = LadderRanges.build(TODAY, DEFAULT_POLICY)
            sql, params = baseline_sql(ranges)
            base_s, base_n = timed(db, lambda sql=sql, params=params: len(db.session.execute(text(sql), params).all()), repeat)
            mine_s, mine_n = timed(db, lambda ranges=ranges: len(apply_moves(plan_moves(ranges), ranges, NOW)), repeat)
            assert mine_n == base_n, (scenario, mine_n, base_n)

            def full(ranges=ranges):
                ctx = SweepContext(today=TODAY, now=NOW, policy=DEFAULT_POLICY, calendar=None,
                                   audience=Audience(NOW, TODAY, email_ready=False), actor_id=None,
                                   task_path="/tasks/{id}", base_url="http://bench")
                moved = _move_ladder(ctx, ranges)
                _remind(ctx)
                return moved["audit_rows"]

            full_s, _ = timed(db, full, max(1, repeat - 1))
            print(f"  {db.engine.dialect.name} {n} {scenario}: moved {base_n}, baseline {base_s:.3f}s, sweep {mine_s:.3f}s "
                  f"({mine_s / base_s:.2f}×), full {full_s:.3f}s", file=sys.stderr, flush=True)
            out.append({"backend": db.engine.dialect.name, "tasks": n, "scenario": scenario, "moved": base_n,
                        "baseline_s": base_s, "sweep_s": mine_s, "ratio": mine_s / base_s if base_s else float("nan"),
                        "full_s": full_s, "us_per_task": mine_s / n * 1e6, "generate_s": generate_s})
        db.session.remove()
        db.engine.dispose()
    return out


def pg_scratch(base_url: str):
    """A throw-away database beside the one named by base_url; returns (url, drop)."""
    from tracker.settings import normalise_db_url

    base = make_url(normalise_db_url(base_url))
    name = f"sweep_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Sweep selection+update vs one hand-written set-based statement")
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated task counts")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg-url", default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        for n in sizes:
            if not args.no_sqlite:
                path = Path(tmp) / f"bench-{n}.db"
                results += run_size(f"sqlite:///{path}", n, args.repeat, tmp)
                path.unlink(missing_ok=True)
                print(f"… sqlite {n} done", file=sys.stderr, flush=True)
            if not args.no_pg:
                url, drop = pg_scratch(args.pg_url)
                try:
                    results += run_size(url, n, args.repeat, tmp)
                finally:
                    drop()
                print(f"… postgresql {n} done", file=sys.stderr, flush=True)
    header = (f"{'backend':<11}{'tasks':>10} {'scenario':<9}{'moved':>8}{'baseline s':>12}{'sweep s':>10}"
              f"{'ratio':>7}{'µs/task':>9}{'full s':>9}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['backend']:<11}{r['tasks']:>10} {r['scenario']:<9}{r['moved']:>8}{r['baseline_s']:>12.3f}"
              f"{r['sweep_s']:>10.3f}{r['ratio']:>7.2f}{r['us_per_task']:>9.3f}{r['full_s']:>9.3f}")
    print()
    for backend in sorted({r["backend"] for r in results}):
        for scenario in ("cold", "daily"):
            rows = [r for r in results if r["backend"] == backend and r["scenario"] == scenario]
            if len(rows) > 1:
                growth = " → ".join(f"{r['us_per_task']:.3f}" for r in rows)
                print(f"{backend} {scenario}: µs per task {growth} at {' / '.join(str(r['tasks']) for r in rows)} tasks; "
                      f"worst ratio {max(r['ratio'] for r in rows):.2f}×")
    if results:
        worst = max(r["ratio"] for r in results)
        print(f"\nworst sweep/baseline ratio: {worst:.2f}× (target ≤ 2×); "
              f"median {statistics.median(r['ratio'] for r in results):.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
