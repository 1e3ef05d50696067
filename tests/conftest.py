"""Shared fixtures: one app per test session on a fresh database made by the migrations.

The database is SQLite in a temporary folder unless TEST_DATABASE_URL names a PostgreSQL server;
then a throw-away database is created beside the named one and dropped at the end, so parallel runs
never see each other's rows. Every test that uses `db` starts from empty tables.
"""
from __future__ import annotations

import os
import re
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tracker import create_app
from tracker.clock import LOCAL_TZ, FixedClock
from tracker.extensions import db as _db

ROOT = Path(__file__).resolve().parent.parent
CHUXIONG = ROOT / "data" / "plans" / "chuxiong-2023.yaml"
#: the suite's "today": a Monday in late 2026, fixed so results never depend on the wall clock
TEST_NOW = datetime(2026, 11, 23, 9, 0, tzinfo=LOCAL_TZ)


def scratch_database(tmp_root: Path, *, filename: str = "test.db", tag: str = "t"):
    """(url, drop): SQLite in tmp_root, or a throw-away database beside TEST_DATABASE_URL's.

    `drop` removes the PostgreSQL database at the end (None for SQLite); the browser tests use it too.
    """
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        return f"sqlite:///{tmp_root / filename}", None
    from tracker.settings import normalise_db_url

    base = make_url(normalise_db_url(url))
    name = f"{base.database or 'test'}_{tag}{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


class FreshContextClient(FlaskClient):
    """Each request gets its own app context (own `g`, own DB session), as in production.

    Without this, requests made while a test holds an app context would share `g` (and the
    signed-in user cached there) with each other and with the test.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    tmp_root = tmp_path_factory.mktemp("tracker")
    url, drop = scratch_database(tmp_root)
    application = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "EVIDENCE_DIR": str(tmp_root / "evidence"),
        "SERVER_NAME": "tracker.test",
    })
    application.test_client_class = FreshContextClient
    application.instance_path = str(tmp_root / "instance")
    Path(application.instance_path).mkdir(exist_ok=True)
    application.extensions["clock"] = FixedClock(TEST_NOW)
    with application.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
    yield application
    with application.app_context():
        _db.engine.dispose()
    if drop:
        drop()


@pytest.fixture
def clock(app) -> FixedClock:
    return app.extensions["clock"]


@pytest.fixture
def db(app):
    """Empty tables for each test; the test's own commits are real (concurrency tests need them)."""
    with app.app_context():
        app.extensions["clock"].set(TEST_NOW)
        yield _db
        _db.session.rollback()
        _db.session.remove()
        tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
        with _db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def chuxiong(db):
    """The Chuxiong plan imported; returns the import result."""
    from tracker.plans.operations import import_plan
    from tracker.plans.planfile import read_plan_file

    result = import_plan(read_plan_file(CHUXIONG))
    db.session.commit()
    return result


@pytest.fixture
def make_user(db):
    from tracker.auth.operations import create_user

    def factory(username: str, role: str, unit_code: str | None = None, password: str = "Passw0rd!x"):
        user = create_user(username, password, role, unit_code=unit_code)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def login(client):
    def do(username: str, password: str = "Passw0rd!x"):
        return client.post("/login", data={"username": username, "password": password})

    return do


def slug(text_value: str) -> str:
    return re.sub(r"\W+", "-", text_value).strip("-")
