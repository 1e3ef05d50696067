#!/usr/bin/env python
"""Dashboard and task-list pages under 8 concurrent clients against a real `gunicorn wsgi:app -w 4`.

    .venv/bin/python bench/pages_bench.py                        # PostgreSQL, 100 and 300 counties
    .venv/bin/python bench/pages_bench.py --sizes 100,1000,2900 --requests 160
    .venv/bin/python bench/pages_bench.py --sqlite               # also SQLite (optional)

For each size the script generates the national dataset (tracker/demo/generate.py) into a scratch
database, adds an administrator and one county unit user, starts ``gunicorn wsgi:app -w 4`` on a free
127.0.0.1 port with DATABASE_URL pointing at that database (TRACKER_CLOCK_NOW fixed), and drives it with
8 client threads (http.client, keep-alive, loopback only). Each thread logs in once (GET /login for the
CSRF token, POST /login) and then issues its share of a bounded number of requests per page (a thread
stops early, after at least 2, when a page has taken 40 s):

* ``/login`` (anonymous GET: a template, no query) and ``/static/style.css`` — the trivial baselines;
* ``/dashboard`` as the administrator;
* ``/tasks`` (first page of the list) as the administrator and as the county's unit user.

Reported: p50/p95 in ms and the ratio of each page's p50/p95 to the /login baseline's, measured in the
same run on the same server; the growth between sizes is per-request ms at each size.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from _common import NOW, ROOT, add_common_args, dispose, generate_data, log, make_app, migrate, parse_sizes, scratch, \
    table

CLIENTS = 8
PASSWORD = "Bench-pass-1"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive connection with its own cookie jar."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        for header, value in resp.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, data

    def login(self, username: str) -> None:
        status, page = self.request("GET", "/login")
        m = CSRF.search(page.decode())
        token = (m.group(1) or m.group(2)) if m else ""
        status, _ = self.request("POST", "/login", urllib.parse.urlencode(
            {"csrf_token": token, "username": username, "password": PASSWORD}))
        assert status == 302, f"login {username}: HTTP {status}"


def wait_up(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/login")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer")


def drive(port: int, path: str, user: str | None, total: int, budget: float = 40.0) -> list[float]:
    """`total` requests of `path` spread over CLIENTS threads (each thread stops early, after at least 2,
    once `budget` seconds have passed); returns the latencies in ms."""
    per = max(1, total // CLIENTS)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def worker():
        try:
            c = Client(port)
            if user:
                c.login(user)
            status, _ = c.request("GET", path)  # warm-up, not timed
            assert status == 200, f"{path}: HTTP {status}"
            barrier.wait()
            mine = []
            start = time.perf_counter()
            for i in range(per):
                if i >= 2 and time.perf_counter() - start > budget:
                    break
                t0 = time.perf_counter()
                status, _ = c.request("GET", path)
                mine.append((time.perf_counter() - t0) * 1000)
                assert status == 200, f"{path}: HTTP {status}"
            with lock:
                latencies.extend(mine)
        except Exception as exc:  # noqa: BLE001 — reported below
            barrier.abort()
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{path} as {user}: {errors[0]}")
    return latencies


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def add_users(app) -> str:
    from sqlalchemy import select

    from tracker.auth.operations import create_user
    from tracker.extensions import db
    from tracker.units.models import Unit

    with app.app_context():
        county = db.session.scalar(select(Unit.code).where(Unit.kind == "county").order_by(Unit.code))
        create_user("benchadmin", PASSWORD, "admin")
        create_user("benchunit", PASSWORD, "unit", unit_code=county)
        db.session.commit()
    return county


def run_size(backend: str, counties: int, requests: int, tmp: str, pg_url: str) -> list[dict]:
    out = []
    with scratch(backend, tmp, f"pages{counties}", pg_url) as url:
        app = make_app(url, tmp)
        migrate(app)
        gen = generate_data(app, counties, counties * 69, years=1)
        add_users(app)
        dispose(app)
        log(f"  {backend} {counties} counties generated in {gen['seconds']:.1f}s ({gen['tasks']} tasks)")
        port = free_port()
        instance = Path(tmp) / f"instance-{counties}"
        instance.mkdir(exist_ok=True)
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret", TRACKER_INSTANCE=str(instance),
                   TRACKER_CLOCK_NOW=NOW.strftime("%Y-%m-%dT%H:%M"))
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        proc = subprocess.Popen([gunicorn, "wsgi:app", "-w", "4", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
                                cwd=str(ROOT), env=env)
        try:
            wait_up(port, proc)
            pages = [("/login", None, "login (anon)"), ("/static/style.css", None, "static css"),
                     ("/dashboard", "benchadmin", "dashboard (admin)"), ("/tasks", "benchadmin", "tasks (admin)"),
                     ("/tasks", "benchunit", "tasks (unit)")]
            base = None
            for path, user, label in pages:
                t0 = time.perf_counter()
                lat = drive(port, path, user, requests)
                wall = time.perf_counter() - t0
                row = {"backend": backend, "counties": counties, "tasks": gen["tasks"], "page": label, "n": len(lat),
                       "p50": statistics.median(lat), "p95": pct(lat, 95), "rps": len(lat) / wall}
                if base is None:
                    base = row
                row["r50"] = row["p50"] / base["p50"]
                row["r95"] = row["p95"] / base["p95"]
                log(f"  {backend} {counties} {label}: p50 {row['p50']:.1f} ms, p95 {row['p95']:.1f} ms "
                    f"({row['r50']:.1f}× / {row['r95']:.1f}× /login)")
                out.append(row)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return out


COLUMNS = [("backend", "backend", ""), ("counties", "counties", "d"), ("tasks", "tasks", "d"), ("page", "page", ""),
           ("n", "requests", "d"), ("p50", "p50 ms", ".1f"), ("p95", "p95 ms", ".1f"), ("r50", "p50 ÷ /login", ".1f"),
           ("r95", "p95 ÷ /login", ".1f"), ("rps", "req/s", ".1f")]


def growth(results: list[dict]) -> list[str]:
    lines = []
    for backend in sorted({r["backend"] for r in results}):
        for page in dict.fromkeys(r["page"] for r in results):
            rows = [r for r in results if r["backend"] == backend and r["page"] == page]
            if len(rows) > 1:
                lines.append(f"{backend} {page}: p50 ms " + " → ".join(f"{r['p50']:.1f}" for r in rows)
                             + f" at {' / '.join(str(r['tasks']) for r in rows)} tasks")
    return lines


def main(argv=None) -> tuple[list[dict], str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "100,300")
    ap.add_argument("--requests", type=int, default=80, help="timed requests per page (split over 8 clients)")
    ap.add_argument("--sqlite", action="store_true", help="also run on SQLite (optional)")
    args = ap.parse_args(argv)
    chosen = (["sqlite"] if args.sqlite else []) + ([] if args.no_pg else ["postgresql"])
    results = []
    with tempfile.TemporaryDirectory(prefix="pages-bench-") as tmp:
        for backend in chosen:
            for n in parse_sizes(args.sizes):
                results += run_size(backend, n, args.requests, tmp, args.pg_url)
    out = table(results, COLUMNS) + "\n\n" + "\n".join(f"- {g}" for g in growth(results))
    lists = [r for r in results if r["page"].startswith("tasks")]
    if lists:
        worst = max(r["r50"] for r in lists)
        out += (f"\n- /tasks p50 ÷ /login p50: " + ", ".join(f"{r['page']} {r['r50']:.1f}× at {r['tasks']} tasks" for r in lists)
                + f"; worst {worst:.1f}× (aim ≤ 10×): {'met' if worst <= 10 else 'NOT met'}")
    print(out)
    return results, out


if __name__ == "__main__":
    main(sys.argv[1:])
