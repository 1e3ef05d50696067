"""`flask scheduler tick/jobs`, the leader lock, and the yearly roll-over of recurring measures."""
from __future__ import annotations

import json
import os
from datetime import date

import pytest
from sqlalchemy import func, select, text

from tracker.extensions import db as _db
from tracker.models import Measure, Notification, Task, TaskEvent
from tracker.scheduler import config
from tracker.scheduler.jobs import run_job
from tracker.scheduler.lock import ADVISORY_KEY, LeaderLock


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_tick_json_reports_what_each_job_did(db, chuxiong, make_user, cli):
    make_user("jyj", "unit", "ZJYTYJ")
    out = cli("scheduler", "tick", "--now", "2026-12-01T09:00", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["now"] == "2026-12-01T09:00+08:00"
    jobs = data["jobs"]
    assert list(jobs) == list(config.JOB_ORDER)
    assert jobs["rollover"]["created"] == 29 and jobs["rollover"]["period"] == "2026"
    assert jobs["sweep"]["moved"] == {"due_soon": 0, "overdue": 0, "escalated": 0, "interview": 46}
    assert jobs["sweep"]["audit_rows"] == 138  # lapse + escalate + call_interview for each of the 46 county tasks
    assert jobs["sweep"]["reminders"] > 0 and jobs["sweep"]["notices_queued"] > 0
    assert jobs["indicators"]["status"] in ("done", "skipped")  # skipped until tracker.indicators has reevaluate_all
    assert jobs["weekly_digest"] == {"status": "not_due", "next": "2026-12-07T08:30"}
    again = json.loads(cli("scheduler", "tick", "--now", "2026-12-01T09:00", "--json").output)["jobs"]
    assert again["rollover"]["created"] == 0 and again["sweep"]["notices_queued"] == 0
    assert again["sweep"]["audit_rows"] == 0 and again["daily_digest"]["status"] == "already_done"


def test_tick_text_output_is_chinese_and_bad_instant_is_refused(db, chuxiong, cli):
    out = cli("scheduler", "tick", "--now", "2026-12-31T09:00")
    assert out.exit_code == 0, out.output
    assert "时刻：2026-12-31T09:00+08:00（中国时间）" in out.output
    assert "督办等级变动：临期" in out.output and "领导小组周报：未到执行时间" in out.output
    bad = cli("scheduler", "tick", "--now", "下周一")
    assert bad.exit_code != 0 and "无法识别的时刻" in bad.output


def test_job_times_come_from_the_file_and_the_environment(app, cli, monkeypatch):
    monkeypatch.setenv("TRACKER_SWEEP_CRON", "*/30 * * * *")
    with app.app_context():
        jobs = config.load_jobs()
    assert jobs["sweep"].cron == "*/30 * * * *" and jobs["weekly_digest"].cron == "30 8 * * mon"
    out = cli("scheduler", "jobs", "--json")
    rows = {r["job"]: r for r in json.loads(out.output)}
    assert rows["sweep"]["cron"] == "*/30 * * * *" and rows["dispatch"]["cron"] == "* * * * *"
    monkeypatch.setenv("TRACKER_SWEEP_CRON", "every hour")
    with app.app_context(), pytest.raises(ValueError, match="sweep"):
        config.load_jobs()


def test_create_app_never_starts_a_scheduler():
    import threading

    from tracker import create_app

    before = {t.name for t in threading.enumerate()}
    create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    assert {t.name for t in threading.enumerate()} - before == set()


# --------------------------------------------------------------------------
# The leader lock
# --------------------------------------------------------------------------

def test_a_second_scheduler_waits_for_the_leader(app, db, chuxiong, cli):
    leader = LeaderLock(_db.engine, app.instance_path)
    assert leader.try_acquire()
    try:
        assert not LeaderLock(_db.engine, app.instance_path).try_acquire()
        out = cli("scheduler", "tick", "--now", "2026-12-01T09:00", "--wait", "0.5")
        assert out.exit_code == 1 and "另一个调度进程正在运行" in out.output
        assert db.session.scalar(select(func.count()).select_from(TaskEvent)) == 0  # nothing was done
    finally:
        leader.release()
    assert cli("scheduler", "tick", "--now", "2026-12-01T09:00").exit_code == 0


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="pg_try_advisory_lock is PostgreSQL-only")
def test_advisory_lock_is_held_on_its_own_connection_and_dies_with_it(app, db):
    leader = LeaderLock(_db.engine, app.instance_path)
    assert leader.try_acquire() and leader.alive()
    held = db.session.execute(text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :k"),
                              {"k": ADVISORY_KEY & 0xFFFFFFFF}).scalars().all()
    assert len(held) == 1
    follower = LeaderLock(_db.engine, app.instance_path)
    assert not follower.try_acquire()
    # the leader's connection dies (crash, network): the lock is free at once and the follower takes over
    db.session.execute(text("SELECT pg_terminate_backend(:p)"), {"p": held[0]})
    db.session.commit()
    assert not leader.alive()
    assert follower.acquire(wait=5)
    follower.release()


# --------------------------------------------------------------------------
# Roll-over of recurring measures
# --------------------------------------------------------------------------

def yearly(db, period: str) -> list[Task]:
    db.session.expire_all()
    return list(db.session.scalars(select(Task).where(Task.period == period).order_by(Task.id)))


def test_recurring_measures_are_marked_in_the_plan_file(db, chuxiong):
    marked = sorted(m.number for m in db.session.scalars(select(Measure)) if m.extra.get("recurring") == "yearly")
    assert marked == ["二十一", "二十三"]


def test_rollover_creates_each_years_tasks_once(db, clock, chuxiong, make_user):
    from tests.test_scheduler_sweep import at

    user = make_user("jyj", "unit", "ZJYTYJ")
    at(clock, date(2026, 12, 1))
    first = run_job("rollover")
    tasks = yearly(db, "2026")
    assert first["created"] == len(tasks) == 29
    assert {(t.start_date, t.deadline, t.status, t.ladder) for t in tasks} == {(date(2026, 1, 1), date(2026, 12, 31), "assigned", "normal")}
    assert {t.measure.number for t in tasks} == {"二十一", "二十三"}
    assert sum(t.unit.name == "楚雄市" for t in tasks) == 2
    ev = db.session.scalars(select(TaskEvent).where(TaskEvent.task_id == tasks[0].id)).all()
    assert [(e.event, e.actor.username) for e in ev] == [("rollover", "system")]
    notes = db.session.scalars(select(Notification).where(Notification.user_id == user.id, Notification.kind == "rollover")).all()
    assert len(notes) == 2 and "2026年度任务" in notes[0].subject
    assert run_job("rollover")["created"] == 0
    # the new year starts
    at(clock, date(2027, 1, 1), 0, 10)
    assert run_job("rollover")["created"] == 29
    assert len(yearly(db, "2027")) == 29 and len(yearly(db, "2026")) == 29
    assert db.session.scalar(select(func.count()).select_from(Task).where(Task.period == "")) == 300
    # after the plan's last milestone year (2033) nothing more is created
    at(clock, date(2034, 1, 1), 0, 10)
    assert run_job("rollover")["created"] == 0
