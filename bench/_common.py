"""Shared helpers of the benchmarks in bench/: scratch databases, the app, generated data, tables.

Every bench builds its own scratch database through the real migrations (a temporary SQLite file, or a
PostgreSQL database bench_<pid>_<hex> created and dropped by the script), fills it with the deterministic
national-size generator (tracker/demo/generate.py) and measures the app against a baseline measured in
the same run on the same machine.
"""
from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 0)
PG_DEFAULT = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_app(url: str, instance: str, **extra):
    os.environ["TRACKER_INSTANCE"] = instance
    from tracker import create_app
    from tracker.clock import LOCAL_TZ, FixedClock

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True,
                      "WTF_CSRF_ENABLED": False, "EVIDENCE_DIR": str(Path(instance) / "evidence"), **extra})
    app.extensions["clock"] = FixedClock(NOW.replace(tzinfo=LOCAL_TZ))
    return app


def migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        logging.getLogger("alembic").setLevel(logging.WARNING)
        upgrade(revision="heads")


def generate_data(app, counties: int, schools: int, years: int = 1) -> dict:
    """The national generator at the given size, committed and ANALYZEd; returns its summary + seconds."""
    from tracker.demo.generate import Sizes, generate
    from tracker.extensions import db

    with app.app_context():
        t0 = time.perf_counter()
        result = generate(Sizes(counties=counties, schools=schools, years=years, seed=1), TODAY)
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        result["seconds"] = time.perf_counter() - t0
        db.session.remove()
    return result


@contextmanager
def pg_scratch(base_url: str = PG_DEFAULT):
    """A throw-away PostgreSQL database beside the one named by base_url; yields its URL."""
    from tracker.settings import normalise_db_url

    base = make_url(normalise_db_url(base_url))
    name = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_scratch(tmp: str, tag: str):
    path = Path(tmp) / f"bench-{tag}-{uuid.uuid4().hex[:6]}.db"
    try:
        yield f"sqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)


@contextmanager
def scratch(backend: str, tmp: str, tag: str, pg_url: str = PG_DEFAULT):
    cm = pg_scratch(pg_url) if backend == "postgresql" else sqlite_scratch(tmp, tag)
    with cm as url:
        yield url


def dispose(app) -> None:
    from tracker.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def best(fn, repeat: int):
    """Best wall time of `repeat` runs of fn(); returns (seconds, last result)."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A GitHub-markdown table: columns are (key, header, format spec)."""
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    sep = "|" + "|".join("---:" if f else "---" for _, _, f in columns) + "|"
    body = ["| " + " | ".join(format(r[k], f) if f and isinstance(r.get(k), (int, float)) else str(r.get(k, ""))
                              for k, _, f in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def parse_sizes(text_value: str) -> list[int]:
    return [int(s) for s in text_value.split(",") if s.strip()]


def backends(args) -> list[str]:
    out = []
    if not getattr(args, "no_sqlite", False):
        out.append("sqlite")
    if not getattr(args, "no_pg", False):
        out.append("postgresql")
    return out


def add_common_args(ap, sizes: str) -> None:
    ap.add_argument("--sizes", default=sizes, help="comma-separated county counts (generator size)")
    ap.add_argument("--pg-url", default=PG_DEFAULT)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
