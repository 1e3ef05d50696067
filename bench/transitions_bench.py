#!/usr/bin/env python
"""Transition throughput: `accept` fired concurrently from N threads, on distinct tasks and on one task.

    .venv/bin/python bench/transitions_bench.py                  # 20 and 100 counties, SQLite and PostgreSQL
    .venv/bin/python bench/transitions_bench.py --threads 8 --sizes 100,1000 --no-sqlite

Data: tracker/demo/generate.py at N counties (≈25 % of its ~240 tasks per county are 待签收/assigned),
plus one unit user per unit (inserted directly; they never log in). Each thread has its own app context
and session, as a gunicorn worker would. Scenarios, each measured in the same run:

* ``distinct`` — the assigned tasks are dealt round-robin to the threads; each thread loads a task and
  calls tracker.tasks.operations.fire(task, "accept", its unit's user, expected_version=task.version),
  then commits (lifecycle check, audit row, version-guarded UPDATE, notices).
* ``same``     — rounds in which all threads load the SAME assigned task, meet at a barrier and fire
  `accept` with the version they read: exactly one must win, the others get tracker.errors.Conflict.
* ``baseline`` — the same distinct-task workload as hand-written SQL, one transaction per task:
  ``UPDATE tasks SET status='in_progress', version=version+1 WHERE id=:id AND version=:v`` plus one
  INSERT INTO task_events.

Checked after every scenario: task_events rows written == successful transitions (no lost or doubled
update), every won task is in_progress with version + 1, and in ``same`` exactly one winner per round.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time

from _common import NOW, add_common_args, backends, dispose, generate_data, log, make_app, migrate, parse_sizes, \
    scratch, table
from sqlalchemy import func, select, text


def add_users(app) -> None:
    from tracker.auth.models import Role, User
    from tracker.extensions import db
    from tracker.units.models import Unit

    with app.app_context():
        for uid, code in db.session.execute(select(Unit.id, Unit.code)):
            db.session.add(User(username=f"b{code}".lower(), role=Role("unit"), unit_id=uid, display_name=code,
                                password_hash="!", active=True, created_at=NOW))
        db.session.commit()


def run_threads(n: int, target) -> float:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def events_since(db, mark: int) -> int:
    return db.session.scalar(select(func.count()).select_from(text("task_events")).where(text(f"id > {mark}")))


def run_size(backend: str, counties: int, nthreads: int, per_thread: int, rounds: int, tmp: str, pg_url: str) -> list[dict]:
    from tracker.auth.models import User
    from tracker.errors import Conflict
    from tracker.extensions import db
    from tracker.tasks.models import Task
    from tracker.tasks.operations import fire

    out = []
    with scratch(backend, tmp, f"tr{counties}", pg_url) as url:
        app = make_app(url, tmp)
        migrate(app)
        gen = generate_data(app, counties, counties, years=1)
        add_users(app)
        with app.app_context():
            assigned = [r.id for r in db.session.execute(select(Task.id).where(Task.status == "assigned").order_by(Task.id))]
            users = dict(db.session.execute(select(User.unit_id, User.id)).all())
            owner = dict(db.session.execute(select(Task.id, Task.unit_id).where(Task.status == "assigned")).all())
            mark = db.session.scalar(select(func.coalesce(func.max(text("id")), 0)).select_from(text("task_events")))
        need = nthreads * per_thread
        assert len(assigned) >= 2 * need + rounds, (len(assigned), need)
        app_tasks, base_tasks, same_tasks = assigned[:need], assigned[need:2 * need], assigned[2 * need:2 * need + rounds]
        log(f"  {backend} {counties} counties: {gen['tasks']} tasks, {len(assigned)} assigned")

        def scenario(name, tasks_of, body):
            nonlocal mark
            stats = {"ok": 0, "conflict": 0, "error": 0, "errors": []}
            lock = threading.Lock()

            def worker(i):
                with app.app_context():
                    for tid in tasks_of(i):
                        r = body(tid)
                        with lock:
                            stats[r if isinstance(r, str) else "error"] += 1
                            if not isinstance(r, str):
                                stats["errors"].append(repr(r))
                    db.session.remove()

            wall = run_threads(nthreads, worker)
            with app.app_context():
                written = events_since(db, mark)
                mark = db.session.scalar(select(func.max(text("id"))).select_from(text("task_events")))
                db.session.remove()
            row = {"backend": backend, "counties": counties, "scenario": name, "threads": nthreads, "ok": stats["ok"],
                   "conflicts": stats["conflict"], "errors": stats["error"], "audit_rows": written, "seconds": wall,
                   "per_s": stats["ok"] / wall, "lost": stats["ok"] - written}
            assert written == stats["ok"], (name, written, stats)
            log(f"  {backend} {counties} {name}: {stats['ok']} ok, {stats['conflict']} conflicts, {stats['error']} errors "
                f"{stats['errors'][:1]}, {written} audit rows, {row['per_s']:.0f}/s")
            return row

        def app_fire(tid):
            try:
                task = db.session.get(Task, tid)
                actor = db.session.get(User, users[task.unit_id])
                fire(task, "accept", actor, expected_version=task.version)
                db.session.commit()
                return "ok"
            except Conflict:
                db.session.rollback()
                return "conflict"
            except Exception as exc:  # noqa: BLE001 — counted and shown
                db.session.rollback()
                return exc

        def base_fire(tid):
            try:
                v = db.session.scalar(text("SELECT version FROM tasks WHERE id = :id"), {"id": tid})
                n = db.session.execute(text("UPDATE tasks SET status = 'in_progress', version = version + 1, "
                                            "updated_at = :now WHERE id = :id AND version = :v AND status = 'assigned'"),
                                       {"id": tid, "v": v, "now": NOW}).rowcount
                if n != 1:
                    db.session.rollback()
                    return "conflict"
                db.session.execute(text("INSERT INTO task_events (task_id, actor_id, event, from_status, to_status, "
                                        "comment, data, created_at) VALUES (:id, :a, 'accept', 'assigned', "
                                        "'in_progress', '', '{}', :now)"), {"id": tid, "a": users[owner[tid]], "now": NOW})
                db.session.commit()
                return "ok"
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                return exc

        out.append(scenario("baseline SQL, distinct", lambda i: base_tasks[i::nthreads], base_fire))
        out.append(scenario("fire(), distinct", lambda i: app_tasks[i::nthreads], app_fire))

        # same task: each round every thread reads the task, waits at the barrier, then fires with what it read
        barrier = threading.Barrier(nthreads)

        def same_worker_tasks(i):
            return same_tasks

        def same_body(tid):
            try:
                task = db.session.get(Task, tid)
                actor = db.session.get(User, users[task.unit_id])
                version = task.version
                barrier.wait()
                fire(task, "accept", actor, expected_version=version)
                db.session.commit()
                return "ok"
            except Conflict:
                db.session.rollback()
                return "conflict"
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                return exc

        row = scenario("fire(), same task", same_worker_tasks, same_body)
        out.append(row)
        with app.app_context():
            won = db.session.execute(select(Task.status, Task.version).where(Task.id.in_(app_tasks + same_tasks))).all()
            assert all(s == "in_progress" and v == 2 for s, v in won), "a won task is not in_progress at version 2"
        assert row["ok"] == rounds, f"same task: {row['ok']} winners in {rounds} rounds"
        base = out[-3]["per_s"]
        for r in out[-3:]:
            r["ratio"] = r["per_s"] / base if base else float("nan")
        dispose(app)
    return out


COLUMNS = [("backend", "backend", ""), ("counties", "counties", "d"), ("scenario", "scenario", ""),
           ("threads", "threads", "d"), ("ok", "transitions", "d"), ("conflicts", "conflicts", "d"),
           ("errors", "errors", "d"), ("audit_rows", "audit rows", "d"), ("lost", "lost updates", "d"),
           ("per_s", "transitions/s", ".0f"), ("ratio", "÷ baseline/s", ".2f")]


def main(argv=None) -> tuple[list[dict], str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "20,100")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--per-thread", type=int, default=40, help="distinct tasks per thread")
    ap.add_argument("--rounds", type=int, default=40, help="same-task rounds")
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="transitions-bench-") as tmp:
        for backend in backends(args):
            for n in parse_sizes(args.sizes):
                results += run_size(backend, n, args.threads, args.per_thread, args.rounds, tmp, args.pg_url)
    lines = []
    for backend in sorted({r["backend"] for r in results}):
        rows = [r for r in results if r["backend"] == backend and r["scenario"] == "fire(), distinct"]
        if len(rows) > 1:
            lines.append(f"{backend} fire(), distinct: ms per transition (wall ÷ transitions × threads) "
                         + " → ".join(f"{r['seconds'] / r['ok'] * r['threads'] * 1000:.1f}" for r in rows)
                         + f" at {' / '.join(str(r['counties']) for r in rows)} counties")
    lines.append(f"lost updates in all runs: {sum(r['lost'] for r in results)} (audit rows == successful transitions)")
    out = table(results, COLUMNS) + "\n\n" + "\n".join(f"- {g}" for g in lines)
    print(out)
    return results, out


if __name__ == "__main__":
    main(sys.argv[1:])
