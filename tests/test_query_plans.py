"""The hot queries use their indexes on PostgreSQL (EXPLAIN (FORMAT JSON) of the statements the app sends).

PostgreSQL only — EXPLAIN plans are PostgreSQL-specific (the one legitimate dialect skip). No planner
switches are touched: the national generator (tracker/demo/generate.py) inserts 100 counties
(24,000 tasks with histories, 6,900 schools × 2 years) plus 20,000 notifications, then ANALYZE, so the
planner prefers the indexes on its own.

Each test runs the app's own function (sweep selection, task list statement, outbox dispatch, school rows,
task timeline), captures the SQL it sends with a ``before_cursor_execute`` listener, and EXPLAINs that
exact statement with its parameters.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, select, text

from tests.conftest import TEST_NOW
from tracker.extensions import db as _db

TODAY = TEST_NOW.date()
NOW = TEST_NOW.replace(tzinfo=None)


@pytest.fixture(scope="module")
def big(app):
    with app.app_context():
        if _db.engine.dialect.name != "postgresql":
            pytest.skip("EXPLAIN plans are PostgreSQL-specific")
        from tracker.auth.models import Role, User
        from tracker.demo.generate import Sizes, generate

        generate(Sizes(counties=100, schools=6900, years=2, seed=1), TODAY)
        users = []
        for i in range(50):
            users.append(User(username=f"plan{i}", role=Role("supervisor"), display_name=f"p{i}", password_hash="!",
                              active=True, created_at=NOW))
        _db.session.add_all(users)
        _db.session.flush()
        ids = [u.id for u in users]
        # 20,000 notifications: almost all sent in-app; 40 e-mails pending/failed, due or not
        rows = []
        for i in range(20_000):
            due = i % 500 == 0
            rows.append({"user_id": ids[i % len(ids)], "channel": "email" if due else "inapp", "kind": "reminder",
                         "key": f"plan:{i}", "subject": "s", "body": "", "link": "", "data": {},
                         "status": ("pending" if i % 1000 == 0 else "failed") if due else "sent", "attempts": 0,
                         "next_attempt_at": NOW - timedelta(hours=1) if due else None, "last_error": "",
                         "created_at": NOW - timedelta(days=i % 90), "sent_at": None if due else NOW})
        from tracker.notices.models import Notification

        for k in range(0, len(rows), 5000):
            _db.session.execute(Notification.__table__.insert(), rows[k:k + 5000])
        _db.session.commit()
        _db.session.execute(text("ANALYZE"))
        _db.session.commit()
        _db.session.remove()
    yield
    with app.app_context():
        _db.session.remove()
        tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
        with _db.engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))


@pytest.fixture
def ctx(app, big):
    with app.app_context():
        app.extensions["clock"].set(TEST_NOW)
        yield
        _db.session.rollback()
        _db.session.remove()


def captured(fn) -> list[tuple[str, object]]:
    """The SELECT statements fn() sends, with their parameters."""
    seen: list[tuple[str, object]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not executemany:
            seen.append((statement, parameters))

    engine = _db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def plan_nodes(statement: str, parameters) -> list[dict]:
    raw = _db.session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute("EXPLAIN (FORMAT JSON) " + statement, parameters or None)
        plan = cur.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    out, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.get("Plans", []))
    return out


def assert_index(statements: list[tuple[str, object]], index: str, must_match: str) -> None:
    chosen = [(s, p) for s, p in statements if must_match in s]
    assert chosen, f"no captured statement contains {must_match!r}: {[s[:120] for s, _ in statements]}"
    found = []
    for statement, parameters in chosen:
        nodes = plan_nodes(statement, parameters)
        found.append([(n["Node Type"], n.get("Index Name"), n.get("Relation Name")) for n in nodes])
        if any(n["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan") and n.get("Index Name") == index
               for n in nodes):
            return
    pytest.fail(f"{index} not used; plans: {found}\nSQL: {chosen[0][0]}")


def test_sweep_due_task_selection_uses_an_index(ctx):
    from tracker.scheduler.sweep import LadderRanges, plan_moves
    from workflows.policy import DEFAULT_POLICY

    ranges = LadderRanges.build(TODAY, DEFAULT_POLICY)
    statements = captured(lambda: plan_moves(ranges))
    chosen = [(s, p) for s, p in statements if "FROM tasks" in s]
    assert chosen
    nodes = [n for s, p in chosen for n in plan_nodes(s, p)]
    used = {n.get("Index Name") for n in nodes if n["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")}
    assert used & {"ix_tasks_ladder_deadline", "ix_tasks_status_deadline", "ix_tasks_deadline"}, \
        [(n["Node Type"], n.get("Index Name")) for n in nodes]


def test_task_list_by_unit_and_status_uses_ix_tasks_unit_status(ctx):
    from tracker.tasks.queries import task_list_stmt
    from tracker.units.models import Unit

    unit_id = _db.session.scalar(select(Unit.id).where(Unit.code == "G00042-D03"))
    statements = captured(lambda: _db.session.scalars(task_list_stmt(unit_id=unit_id, status="assigned")).unique().all())
    assert_index(statements, "ix_tasks_unit_status", "FROM tasks")


def test_task_list_by_status_and_deadline_uses_ix_tasks_status_deadline(ctx):
    from tracker.tasks.queries import task_list_stmt

    statements = captured(lambda: _db.session.scalars(
        task_list_stmt(status="submitted", due_by=date(TODAY.year - 1, 1, 31))).unique().all())
    assert_index(statements, "ix_tasks_status_deadline", "FROM tasks")


class _Stop(Exception):
    pass


def test_outbox_dispatch_selection_uses_ix_notifications_dispatch(ctx):
    """tracker.scheduler.dispatch.dispatch's own selection; stopped before it would deliver anything."""
    from tracker.scheduler.dispatch import dispatch

    seen: list[tuple[str, object]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if "FROM notifications" in statement:
            seen.append((statement, parameters))
            raise _Stop

    event.listen(_db.engine, "before_cursor_execute", listener)
    try:
        with pytest.raises(_Stop):
            dispatch(NOW, TODAY)
    finally:
        event.remove(_db.engine, "before_cursor_execute", listener)
        _db.session.rollback()
    assert_index(seen, "ix_notifications_dispatch", "FROM notifications")


def test_school_rows_by_unit_and_year_use_ix_school_years_unit_year(ctx):
    from tracker.indicators import operations as ops
    from tracker.units.models import Unit

    unit = _db.session.scalar(select(Unit).where(Unit.code == "G00042"))
    statements = captured(lambda: ops.school_rows(unit, TODAY.year - 1))
    assert_index(statements, "ix_school_years_unit_year", "FROM school_years")


def test_task_events_by_task_use_ix_task_events_task_created(ctx):
    from tracker.tasks.models import Task
    from tracker.tasks.views import _timeline

    task = _db.session.scalar(select(Task).where(Task.status == "completed").order_by(Task.id).limit(1))
    statements = captured(lambda: _timeline(task))
    assert_index(statements, "ix_task_events_task_created", "FROM task_events")
