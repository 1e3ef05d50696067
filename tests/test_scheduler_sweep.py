"""The deadline sweep: ladder moves at the policy thresholds, catch-up, reminders, idempotency, scale."""
from __future__ import annotations

import os
import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, func, insert, select, update

from tracker.clock import LOCAL_TZ
from tracker.models import Measure, Notification, Plan, Section, Task, TaskEvent, Unit, User
from tracker.scheduler.jobs import locked_tick, run_job, tick
from tracker.scheduler.sweep import LadderRanges, reminder_ranges
from tracker.tasks.policy_store import save_policy
from workflows.policy import EscalationPolicy, expected_ladder, reminder_thresholds_due

DEPT_DEADLINE = date(2026, 12, 31)


def at(clock, day: date, hour: int = 9, minute: int = 0) -> None:
    clock.set(datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ))


def sweep(clock, day: date) -> dict:
    at(clock, day)
    return run_job("sweep")


def unit_code(name: str) -> str:
    from tracker.extensions import db

    return db.session.scalar(select(Unit.code).where(Unit.name == name))


@pytest.fixture
def people(chuxiong, make_user, db):
    out = {
        "dept": make_user("jyj", "unit", unit_code("州教育体育局")),
        "county": make_user("cxs", "unit", unit_code("楚雄市")),
        "lead": make_user("lingdao", "leadership"),
        "sup": make_user("duxue", "supervisor"),
    }
    return out


def dept_task(db, unit_name: str = "州教育体育局") -> Task:
    return db.session.scalars(select(Task).join(Unit, Unit.id == Task.unit_id)
                              .where(Unit.name == unit_name, Task.deadline == DEPT_DEADLINE, Task.period == "")
                              .order_by(Task.id)).first()


def events_of(db, task_id: int) -> list[tuple]:
    return [(e.event, e.from_ladder, e.to_ladder, e.actor.username) for e in db.session.scalars(
        select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id))]


def notices(db, **where) -> list[Notification]:
    stmt = select(Notification).order_by(Notification.id)
    for k, v in where.items():
        stmt = stmt.where(getattr(Notification, k) == v)
    return list(db.session.scalars(stmt))


def ladder_of(db, task_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Task, task_id).ladder


# --------------------------------------------------------------------------
# Ladder thresholds
# --------------------------------------------------------------------------

def test_ladder_moves_at_exactly_the_policy_thresholds(db, clock, people):
    task = dept_task(db)
    version = task.version
    d = DEPT_DEADLINE
    expected = [
        (d - timedelta(days=8), "normal"),       # 8 days left: not yet 临期 (due_soon_days = 7)
        (d - timedelta(days=7), "due_soon"),
        (d - timedelta(days=1), "due_soon"),     # the day before
        (d, "due_soon"),                         # the due date itself is never overdue
        (d + timedelta(days=1), "overdue"),      # the day after
        (d + timedelta(days=6), "overdue"),
        (d + timedelta(days=7), "escalated"),    # ≥ 7 days overdue → 督办
        (d + timedelta(days=8), "escalated"),
        (d + timedelta(days=29), "escalated"),
        (d + timedelta(days=30), "interview"),   # ≥ 30 → 约谈
        (d + timedelta(days=31), "interview"),
    ]
    seen = []
    for day, _ in expected:
        sweep(clock, day)
        seen.append((day, ladder_of(db, task.id)))
    assert seen == expected
    assert events_of(db, task.id) == [
        ("warn", "normal", "due_soon", "system"),
        ("lapse", "due_soon", "overdue", "system"),
        ("escalate", "overdue", "escalated", "system"),
        ("call_interview", "escalated", "interview", "system"),
    ]
    db.session.expire_all()
    assert db.session.get(Task, task.id).version == version + 4  # every move bumps the optimistic lock


def test_notices_go_to_the_right_people_at_each_step(db, clock, people):
    task = dept_task(db)
    sweep(clock, DEPT_DEADLINE + timedelta(days=1))
    overdue = notices(db, task_id=task.id, kind="overdue")
    assert {n.user_id for n in overdue} == {people["dept"].id}
    assert "已逾期1天" in overdue[0].subject and overdue[0].link.endswith(f"/tasks/{task.id}")
    sweep(clock, DEPT_DEADLINE + timedelta(days=7))
    assert {n.user_id for n in notices(db, task_id=task.id, kind="escalation")} == {people["lead"].id}
    sweep(clock, DEPT_DEADLINE + timedelta(days=30))
    interview = notices(db, task_id=task.id, kind="interview")
    assert {n.user_id for n in interview} == {people["sup"].id}
    assert "约谈" in interview[0].subject and "州教育体育局" in interview[0].subject


def test_catch_up_after_downtime_writes_each_step(db, clock, people):
    """Scheduler down from before the deadline until day 10 overdue: lapse and escalate both recorded."""
    task = dept_task(db)
    sweep(clock, DEPT_DEADLINE + timedelta(days=10))
    assert ladder_of(db, task.id) == "escalated"
    assert events_of(db, task.id) == [("lapse", "normal", "overdue", "system"),
                                      ("escalate", "overdue", "escalated", "system")]
    assert {n.kind for n in notices(db, task_id=task.id)} == {"overdue", "escalation"}


def test_catch_up_straight_to_interview(db, clock, people):
    """Down until day 40: the task climbs every level, so the leadership group hears of 督办 as well as the
    supervisors of 约谈."""
    other = dept_task(db, "州财政局")
    sweep(clock, DEPT_DEADLINE + timedelta(days=40))
    assert [e[0] for e in events_of(db, other.id)] == ["lapse", "escalate", "call_interview"]
    sent = notices(db, task_id=other.id)  # 州财政局 has no user of its own to tell of the lapse
    assert {n.kind for n in sent} == {"escalation", "interview"}
    assert {n.user_id for n in sent if n.kind == "escalation"} == {people["lead"].id}
    assert ladder_of(db, other.id) == "interview"
    audit = db.session.scalars(select(TaskEvent).where(TaskEvent.task_id == other.id)).all()
    assert all(e.data["catch_up"] for e in audit)


def test_completed_cancelled_and_suspended_tasks_are_not_touched(db, clock, people):
    done, cancelled, paused = db.session.scalars(
        select(Task).join(Unit, Unit.id == Task.unit_id).where(Unit.name == "州教育体育局", Task.deadline == DEPT_DEADLINE)
        .order_by(Task.id).limit(3)).all()
    for task, status in ((done, "completed"), (cancelled, "cancelled"), (paused, "suspended")):
        db.session.execute(update(Task).where(Task.id == task.id).values(status=status))
    db.session.commit()
    versions = {t.id: t.version for t in (done, cancelled, paused)}
    sweep(clock, DEPT_DEADLINE - timedelta(days=3))
    sweep(clock, DEPT_DEADLINE + timedelta(days=40))
    db.session.expire_all()
    for task_id, version in versions.items():
        t = db.session.get(Task, task_id)
        assert (t.ladder, t.version) == ("normal", version)
        assert events_of(db, task_id) == []
        assert notices(db, task_id=task_id) == []


# --------------------------------------------------------------------------
# Reminders
# --------------------------------------------------------------------------

def reminders_of(db, task_id: int, user_id: int) -> list[int]:
    return [n.data["threshold"] for n in notices(db, task_id=task_id, kind="reminder", user_id=user_id, channel="inapp")]


def test_reminders_30_7_1_days_before_once_each(db, clock, people):
    task, uid = dept_task(db), people["dept"].id
    d = DEPT_DEADLINE
    sweep(clock, d - timedelta(days=31))
    assert reminders_of(db, task.id, uid) == []
    sweep(clock, d - timedelta(days=30))
    assert reminders_of(db, task.id, uid) == [30]
    n = notices(db, task_id=task.id, kind="reminder")[0]
    assert n.subject == f"【到期提醒】任务“{n.data['title']}”距截止还有30天" and "2026年12月31日" in n.body
    for day in (d - timedelta(days=29), d - timedelta(days=8)):
        sweep(clock, day)
    assert reminders_of(db, task.id, uid) == [30]
    sweep(clock, d - timedelta(days=7))
    sweep(clock, d - timedelta(days=7))
    assert reminders_of(db, task.id, uid) == [30, 7]
    sweep(clock, d - timedelta(days=1))
    sweep(clock, d)
    sweep(clock, d + timedelta(days=1))
    assert reminders_of(db, task.id, uid) == [30, 7, 1]


def test_missed_reminder_goes_out_at_next_tick_but_only_the_current_one(db, clock, people):
    """Down from 31 days before until 5 days before: the 7-day reminder goes out then, not the stale 30-day one."""
    task, uid = dept_task(db), people["dept"].id
    sweep(clock, DEPT_DEADLINE - timedelta(days=31))
    sweep(clock, DEPT_DEADLINE - timedelta(days=5))
    assert reminders_of(db, task.id, uid) == [7]


def test_no_reminder_for_tasks_that_moved_on(db, clock, people):
    tasks = db.session.scalars(select(Task).join(Unit, Unit.id == Task.unit_id)
                               .where(Unit.name == "州教育体育局", Task.deadline == DEPT_DEADLINE).order_by(Task.id)).all()
    completed, extended, submitted = tasks[0], tasks[1], tasks[2]
    db.session.execute(update(Task).where(Task.id == completed.id).values(status="completed"))
    db.session.execute(update(Task).where(Task.id == extended.id).values(deadline=date(2027, 6, 30)))
    db.session.execute(update(Task).where(Task.id == submitted.id).values(status="submitted"))
    db.session.commit()
    sweep(clock, DEPT_DEADLINE - timedelta(days=6))
    uid = people["dept"].id
    assert reminders_of(db, completed.id, uid) == []
    assert reminders_of(db, extended.id, uid) == []      # its new deadline is months away
    assert reminders_of(db, submitted.id, uid) == []     # waiting for review, not for its unit
    assert reminders_of(db, tasks[3].id, uid) == [7]
    assert ladder_of(db, extended.id) == "normal"
    # the extended task gets its reminders against the new deadline
    sweep(clock, date(2027, 6, 23))
    assert reminders_of(db, extended.id, uid) == [7]
    assert notices(db, task_id=extended.id, kind="reminder")[0].key.endswith("due=2027-06-30")


def test_working_day_reminder_counts_working_days(db, clock, people):
    """Deadline Monday 2026-11-30: with working days the 1-day reminder comes on Friday, not on the weekend."""
    save_policy({"working_days": True}, None)
    db.session.commit()
    task, uid = dept_task(db), people["dept"].id
    db.session.execute(update(Task).where(Task.id == task.id).values(deadline=date(2026, 11, 30)))
    db.session.commit()
    sweep(clock, date(2026, 11, 26))  # Thursday: 2 working days left
    assert 1 not in reminders_of(db, task.id, uid)
    sweep(clock, date(2026, 11, 27))  # Friday: 1 working day left
    assert reminders_of(db, task.id, uid)[-1] == 1


# --------------------------------------------------------------------------
# The ranges are the policy (pure)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("working_days", [False, True])
def test_deadline_ranges_agree_with_the_policy_functions(working_days):
    from notifications.workdays import get_calendar

    policy = EscalationPolicy(working_days=working_days, due_soon_days=5, escalate_after_days=3, interview_after_days=12)
    cal = get_calendar() if working_days else None
    for today in (date(2026, 9, 28), date(2026, 10, 3), date(2026, 10, 8), date(2026, 12, 31), date(2026, 2, 16)):
        ranges = LadderRanges.build(today, policy, cal)
        rem = reminder_ranges(today, policy, cal)
        for offset in range(-70, 70):
            deadline = today + timedelta(days=offset)
            assert ranges.level_for(deadline) == expected_ladder(deadline, today, False, policy, calendar=cal), (today, deadline)
            due = reminder_thresholds_due(deadline, today, policy, calendar=cal)
            mine = [t for t, lo, hi in rem if lo <= deadline <= hi]
            assert mine == ([min(due)] if due else []), (today, deadline)


# --------------------------------------------------------------------------
# Idempotency and concurrency
# --------------------------------------------------------------------------

def _counts(db) -> tuple[int, int, int]:
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(Notification)),
            db.session.scalar(select(func.count()).select_from(TaskEvent)),
            db.session.scalar(select(func.count()).select_from(Task)))


def test_same_tick_twice_queues_each_notice_once(db, clock, people):
    at(clock, DEPT_DEADLINE - timedelta(days=7))
    first = tick()
    assert first["sweep"]["notices_queued"] > 0 and first["sweep"]["moved"]["due_soon"] > 0
    counts = _counts(db)
    second = tick()
    assert second["sweep"]["notices_queued"] == 0 and second["sweep"]["audit_rows"] == 0
    assert second["rollover"]["created"] == 0
    assert _counts(db) == counts


def _no_duplicate_moves(db) -> None:
    dupes = db.session.execute(select(TaskEvent.task_id, TaskEvent.event, func.count())
                               .group_by(TaskEvent.task_id, TaskEvent.event).having(func.count() > 1)).all()
    assert dupes == []


def _concurrent(app, fn, n: int = 2) -> list:
    barrier, results, errors = threading.Barrier(n), [], []

    def run():
        with app.app_context():
            try:
                barrier.wait()
                results.append(fn())
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                from tracker.extensions import db as _db

                _db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    return results


def test_two_ticks_at_once_behind_the_leader_lock(app, db, clock, people):
    """Both dialects: two schedulers tick together; the lock serialises them, each notice/move happens once."""
    at(clock, DEPT_DEADLINE + timedelta(days=7))
    results = _concurrent(app, lambda: locked_tick(wait=60))
    moved = [r["sweep"]["moved"] for r in results]
    assert sum(m["escalated"] for m in moved) > 0
    assert min(sum(m.values()) for m in moved) == 0  # the second one found nothing left to do
    _no_duplicate_moves(db)
    before = _counts(db)
    tick()
    assert _counts(db) == before


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL only: SQLite serialises writers")
def test_two_ticks_racing_without_the_lock_on_postgresql(app, db, clock, people):
    """PostgreSQL: even without the leader lock, guarded UPDATEs and ON CONFLICT keep every effect single."""
    at(clock, DEPT_DEADLINE + timedelta(days=30))
    results = _concurrent(app, tick)
    for r in results:
        assert all(v.get("status") != "error" for v in r.values()), r
    total_moved = sum(sum(r["sweep"]["moved"].values()) for r in results)
    tasks_moved = db.session.scalar(select(func.count()).select_from(Task).where(Task.ladder != "normal"))
    assert total_moved == tasks_moved
    assert sum(r["sweep"]["notices_queued"] for r in results) == db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.kind.in_(("overdue", "escalation", "interview", "reminder"))))
    _no_duplicate_moves(db)


# --------------------------------------------------------------------------
# Set-based: the statement count does not grow with the number of tasks
# --------------------------------------------------------------------------

def _synthetic(db, n: int, today: date) -> None:
    now = datetime(2026, 1, 1)
    plan = Plan(code=f"p{n}", title="测试方案", imported_at=now)
    db.session.add(plan)
    db.session.flush()
    section = Section(plan_id=plan.id, number="一", position=1, title="部分")
    db.session.add(section)
    db.session.flush()
    measure = Measure(plan_id=plan.id, section_id=section.id, number="一", position=1, title="措施")
    db.session.add(measure)
    units = [Unit(code=f"U{n}-{i}", name=f"单位{n}-{i}", kind="department") for i in range(5)]
    db.session.add_all(units)
    db.session.flush()
    from tracker.auth.models import Role

    db.session.add_all([User(username=f"u{n}-{i}", role=Role.unit, unit_id=u.id, email=f"u{i}@example.org",
                             created_at=now) for i, u in enumerate(units)])
    offsets = [-45, -31, -20, -8, -3, 0, 1, 5, 7, 20, 30, 60]  # every ladder level and reminder threshold
    rows = [{"plan_id": plan.id, "measure_id": measure.id, "unit_id": units[i % 5].id, "period": str(i), "start_date": date(2026, 1, 1),
                 "deadline": today + timedelta(days=offsets[i % len(offsets)]), "deadline_source": "plan", "status": "assigned",
                 "ladder": "normal", "is_lead": False, "progress_percent": 0, "created_at": now, "updated_at": now, "version": 1}
            for i in range(n)]
    db.session.execute(insert(Task.__table__), rows)
    db.session.commit()


def _statements_of_sweep(db) -> tuple[int, dict]:
    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = run_job("sweep")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen), result


@pytest.mark.parametrize("sizes", [(50, 500)])
def test_sweep_statement_count_does_not_grow_with_tasks(app, db, clock, sizes):
    today = date(2026, 11, 23)
    at(clock, today)
    run_job("sweep")  # first run creates the system account: not part of the comparison
    measured = []
    for n in sizes:
        _synthetic(db, n, today)
        statements, result = _statements_of_sweep(db)
        assert sum(result["moved"].values()) > 0 and result["reminders"] > 0
        measured.append(statements)
        db.session.execute(update(Task).values(status="cancelled"))  # out of the next round's way
        db.session.commit()
    assert measured[0] == measured[1], measured
    assert measured[0] < 30
