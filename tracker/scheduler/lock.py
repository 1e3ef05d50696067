"""One scheduler leads at a time.

PostgreSQL: ``pg_try_advisory_lock`` held on a dedicated connection for the life of the leader (the
lock goes with the connection, so a killed leader frees it at once). SQLite: an exclusive ``flock``
on a lock file beside the database file (one machine — SQLite is single-host anyway). Followers
poll until the lock is free. Without the lock, the data-level guards (unique keys, guarded UPDATEs)
still prevent double notices and double moves; the lock keeps the work from being done twice.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import text

#: any fixed 64-bit number, the same in every process of this application
ADVISORY_KEY = 0x7472_6163_6B65_72  # "tracker"


class LeaderLock:
    def __init__(self, engine, instance_path: str):
        self.engine = engine
        self.dialect = engine.dialect.name
        self._conn = None
        self._fd = None
        if self.dialect != "postgresql":
            database = engine.url.database
            if database and database != ":memory:":
                self.path = Path(database).with_name(Path(database).name + ".scheduler.lock")
            else:
                self.path = Path(instance_path) / "scheduler.lock"

    def describe(self) -> str:
        if self.dialect == "postgresql":
            return f"PostgreSQL advisory lock {ADVISORY_KEY}"
        return f"lock file {self.path}"

    def try_acquire(self) -> bool:
        if self.dialect == "postgresql":
            if self._conn is None:
                self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())
            if not got:
                self._conn.close()
                self._conn = None
            return got
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def acquire(self, wait: float | None = None, poll: float = 0.2, on_wait=None) -> bool:
        """Try until acquired or ``wait`` seconds passed (None: forever)."""
        deadline = None if wait is None else time.monotonic() + wait
        told = False
        while True:
            if self.try_acquire():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if on_wait and not told:
                on_wait()
                told = True
            time.sleep(poll)

    def alive(self) -> bool:
        """The leader's lock still held (its connection still up)."""
        if self.dialect == "postgresql":
            try:
                return self._conn is not None and self._conn.execute(text("SELECT 1")).scalar() == 1
            except Exception:  # noqa: BLE001 — a dropped connection means the lock is gone
                return False
        return self._fd is not None

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            finally:
                self._conn.close()
                self._conn = None
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
