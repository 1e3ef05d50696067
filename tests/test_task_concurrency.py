"""Two people acting on the same task at once: exactly one wins, the other gets a conflict, audit has one row."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from tests.helpers import task_of, unit_named
from tracker.errors import Conflict
from tracker.extensions import db as _db
from tracker.models import Task, TaskEvent, User
from tracker.tasks import operations as ops
from workflows import TransitionRefused


def test_racing_the_same_transition(app, db, chuxiong, make_user):
    make_user("a1", "unit", unit_named("禄丰市").code)
    make_user("a2", "unit", unit_named("禄丰市").code)
    task_id = task_of("禄丰市").id
    db.session.remove()
    barrier = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def act(username: str) -> None:
        with app.app_context():
            session = _db.session
            task = session.get(Task, task_id)
            actor = session.scalar(select(User).where(User.username == username))
            assert task.status == "assigned"  # both loaded the task before either acted
            barrier.wait()
            try:
                ops.fire(task, "accept", actor)
                session.commit()
                outcomes.append("won")
            except (Conflict, TransitionRefused) as exc:
                session.rollback()
                outcomes.append("conflict:" + type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 — e.g. SQLite 'database is locked' must not pass silently
                session.rollback()
                outcomes.append(f"error:{exc!r}")
            finally:
                session.remove()

    threads = [threading.Thread(target=act, args=(u,)) for u in ("a1", "a2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict:Conflict", "won"], outcomes
    assert db.session.scalar(select(func.count()).select_from(TaskEvent).where(TaskEvent.task_id == task_id)) == 1
    assert db.session.get(Task, task_id).status == "in_progress"
