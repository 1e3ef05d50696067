"""No N+1 on the list pages: SQL statements per request do not grow with the data.

Each page is requested with the Chuxiong plan alone (300 tasks), then again after a second copy of the
plan (same units, another plan code: 600 tasks, every unit owning twice as many) has been imported and
some tasks have a history
(accepted; a third of them set to submitted so /review has rows). The number of statements sent per request — counted with a SQLAlchemy
``before_cursor_execute`` listener on the engine — must be the same (or +1) and below a fixed bound.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import event, select

from tests.conftest import CHUXIONG
from tracker.extensions import db as _db

BOUND = 30
PASSWORD = "Passw0rd!x"

#: (who, path) — path may use {plan}, {task} (a task of 楚雄市), {county} (楚雄市's unit code)
PAGES = [
    ("supervisor", "/tasks"),
    ("supervisor", "/tasks?page=2"),
    ("unit", "/tasks"),
    ("supervisor", "/dashboard"),
    ("leadership", "/dashboard"),
    ("supervisor", "/plans/"),
    ("supervisor", "/plans/{plan}"),
    ("unit", "/plans/{plan}"),
    ("supervisor", "/tasks/{task}"),
    ("unit", "/tasks/{task}"),
    ("supervisor", "/review"),
    ("supervisor", "/reports/weekly"),
    ("supervisor", "/indicators/"),
    ("supervisor", "/indicators/counties/{county}/trend"),
    ("supervisor", "/supervision/board"),
    ("unit", "/notices/"),
]


def _copy_plan(tmp_path: Path) -> Path:
    data = yaml.safe_load(CHUXIONG.read_text(encoding="utf-8"))
    data["plan"]["code"] = "chuxiong-2023-copy"
    data["plan"]["title"] = data["plan"]["title"] + "（副本）"
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _history(unit_code: str) -> None:
    """Give every assigned task of the unit a history (accept) so detail and list pages have rows to show."""
    from tracker.auth.models import User
    from tracker.tasks.models import Task
    from tracker.tasks.operations import fire
    from tracker.units.models import Unit

    unit = _db.session.scalar(select(Unit).where(Unit.code == unit_code))
    actor = _db.session.scalar(select(User).where(User.unit_id == unit.id))
    for task in _db.session.scalars(select(Task).where(Task.unit_id == unit.id, Task.status == "assigned")).all():
        fire(task, "accept", actor)
    _db.session.commit()
    # and a third of them waiting for review (set directly: the review queue only needs the state)
    from sqlalchemy import update

    ids = list(_db.session.scalars(select(Task.id).where(Task.unit_id == unit.id, Task.status == "in_progress")
                                   .order_by(Task.id)))[::3]
    _db.session.execute(update(Task).where(Task.id.in_(ids)).values(status="submitted"))
    _db.session.commit()


class Counter:
    def __init__(self, engine):
        self.engine, self.n, self.statements = engine, 0, []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.n += 1
        self.statements.append(statement)

    def __enter__(self):
        self.n, self.statements = 0, []
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self)


@pytest.fixture
def setup(app, db, chuxiong, make_user, tmp_path):
    from tracker.plans.models import Plan
    from tracker.tasks.models import Task
    from tracker.units.models import Unit

    county = db.session.scalar(select(Unit).where(Unit.name == "楚雄市"))
    make_user("sup", "supervisor")
    make_user("lead", "leadership")
    make_user("unit1", "unit", county.code)
    clients = {}
    for who, username in (("supervisor", "sup"), ("leadership", "lead"), ("unit", "unit1")):
        c = app.test_client()
        assert c.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
        clients[who] = c
    plan_id = db.session.scalar(select(Plan.id).where(Plan.code == "chuxiong-2023"))
    _history(county.code)
    task_id = db.session.scalar(select(Task.id).where(Task.unit_id == county.id, Task.plan_id == plan_id).order_by(Task.id))
    return {"clients": clients, "plan": plan_id, "task": task_id, "county": county.code, "tmp": tmp_path}


def _count(app, client, path: str) -> tuple[int, int, list[str]]:
    with app.app_context():
        engine = _db.engine
    with Counter(engine) as counter:
        resp = client.get(path)
    return resp.status_code, counter.n, counter.statements


def test_statements_per_request_do_not_grow_with_the_data(app, db, setup):
    from tracker.plans.operations import import_plan
    from tracker.plans.planfile import read_plan_file
    from tracker.tasks.models import Task

    pages = [(who, path.format(**setup)) for who, path in PAGES]
    before = {}
    for who, path in pages:
        status, n, _ = _count(app, setup["clients"][who], path)
        before[(who, path)] = (status, n)

    import_plan(read_plan_file(_copy_plan(setup["tmp"])))
    db.session.commit()
    assert db.session.query(Task).count() == 600
    _history(setup["county"])

    failures, report = [], []
    for who, path in pages:
        status, n, statements = _count(app, setup["clients"][who], path)
        status0, n0 = before[(who, path)]
        report.append(f"{who:<10} {path:<40} {status0}/{status}  {n0:>3} → {n:>3} statements")
        if status0 != 200 or status != 200:
            failures.append(f"{who} {path}: HTTP {status0}/{status}")
        elif n > n0 + 1 or n > BOUND:
            failures.append(f"{who} {path}: {n0} statements with 300 tasks, {n} with 600 (bound {BOUND})\n    "
                            + "\n    ".join(s.split("\n")[0][:140] for s in statements))
    print("\n".join(report))
    assert not failures, "\n".join(failures)
