"""Browser-test fixtures: the real app under gunicorn on a free local port, driven by headless Chromium.

One server per test session: its own database (SQLite in a temporary folder, or a throw-away database
on TEST_DATABASE_URL's PostgreSQL server), its own instance folder, the clock frozen at TEST_NOW,
migrated with `flask db upgrade heads` and loaded with `flask demo setup --json` (Chuxiong plan + demo
accounts). Chromium is Debian's (/usr/bin/chromium); Playwright for Python drives it and never downloads
a browser of its own. Missing Chromium or Playwright fails the tests with the command that installs them.

Fixtures for tests:
  live_server  — .origin, .accounts {username: password}, .flask(*args) (the CLI against the server's DB)
  page         — a fresh 1366×768 zh-CN page (own context, own cookies)
  new_page     — factory for more pages: new_page(viewport=(390, 844), javascript=False, storage_state=None)
  snap         — snap(page, name): full-page PNG → test-output/screenshots/<test>/<nn>-<name>.png
  login        — login(page, "u532302" | "leadership" | …): signs in through the login form
  signed_in    — signed_in(who, viewport=…, javascript=…): a new page with who's session (form used once per user)
  rec          — what every page of the test did: console errors, requests; checked after each test
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import scratch_database

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: the server's "now": the same Monday the rest of the suite uses
TEST_NOW = "2026-11-23T09:00"
INSTALL_HINT = ("run `make browser-deps` (as root: apt-get install -y --no-install-recommends chromium chromium-l10n fonts-noto-cjk) "
                "and `.venv/bin/pip install -r requirements-dev.txt`; never `playwright install`")
#: App defects the browser tests see on every page, tolerated so the rest still runs (none at present).
#: Chromium asks every page for /favicon.ico; the app answers 404 (no icon, no <link rel="icon">), which the
#: console logs as an error. Remove the entry once the app serves an icon or links one.
KNOWN_APP_ISSUES: set[tuple[int, str]] = set()
ROLE_USERS = {"admin": "admin", "leadership": "lingdao", "supervisor": "duxue"}


# ── the server ───────────────────────────────────────────────────────────────────────────────────

@dataclass
class LiveServer:
    origin: str
    env: dict
    accounts: dict[str, str]
    tmp: Path
    log: Path
    plan: dict = field(default_factory=dict)

    def flask(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `flask --app wsgi …` against the server's database and instance folder."""
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], check=False, cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            pytest.fail(f"flask {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}", pytrace=False)
        return result

    def server_log(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_command(port: int) -> list[str]:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if gunicorn.exists():
        return [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "60",
                "--access-logfile", "-",
                "--access-logformat", '%(t)s "%(r)s" %(s)s %(b)s %(M)sms', "wsgi:app"]
    return [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(port)]


def _wait_until_up(proc: subprocess.Popen, origin: str, server: LiveServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the app server exited ({proc.returncode}) before answering:\n{server.server_log()}", pytrace=False)
        try:
            with urllib.request.urlopen(origin + "/login", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f"the app server did not answer on {origin} within {timeout:.0f} s:\n{server.server_log()}", pytrace=False)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # its own process group: gunicorn's workers go with it
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    url, drop = scratch_database(tmp, filename="browser.db", tag="b")
    env = {**os.environ, "DATABASE_URL": url, "TRACKER_INSTANCE": str(tmp / "instance"), "TRACKER_CLOCK_NOW": TEST_NOW,
           "TRACKER_BASE_URL": origin, "PYTHONUNBUFFERED": "1"}
    env.pop("FLASK_APP", None)
    server = LiveServer(origin=origin, env=env, accounts={}, tmp=tmp, log=tmp / "server.log")
    proc = None
    try:
        server.flask("db", "upgrade", "heads")
        setup = server.flask("demo", "setup", "--json")
        data = json.loads(setup.stdout[setup.stdout.index("{"):])
        server.plan = data["plan"]
        server.accounts = {a["username"]: a["password"] for a in data["accounts"]}
        with server.log.open("wb") as log:
            proc = subprocess.Popen(_server_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        _wait_until_up(proc, origin, server)
        yield server
    finally:
        if proc is not None:
            _stop(proc)
        if drop:
            drop()


# ── the browser ──────────────────────────────────────────────────────────────────────────────────

@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None:
        pytest.fail(f"Playwright for Python is not installed in {sys.prefix}: {INSTALL_HINT}", pytrace=False)
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"Chromium is missing ({CHROMIUM} not found): {INSTALL_HINT}", pytrace=False)
    if shutil.which("fc-list") and not subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                                                       check=False).stdout.strip():
        pytest.fail(f"no Chinese font is installed, so screenshots would show boxes: {INSTALL_HINT}", pytrace=False)
    pw = sync_playwright().start()
    try:
        # launch() gives every run a fresh temporary user-data directory
        # LANGUAGE: Chromium's own strings (file picker, date fields) in Chinese, as a user here sees them;
        # needs Debian's chromium-l10n, else they stay English (the app's pages are unaffected)
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--lang=zh-CN"], headless=True,
                                      env={**os.environ, "LANGUAGE": "zh_CN"})
    except PlaywrightError as exc:
        pw.stop()
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}\n{INSTALL_HINT}", pytrace=False)
    yield chromium
    chromium.close()
    pw.stop()


def _slug(text: str) -> str:
    return re.sub(r"[^\w\u4e00-\u9fff-]+", "-", text).strip("-")[:150] or "page"


class Recorder:
    """Everything the test's pages did: screenshots, console errors, page errors, every request URL."""

    def __init__(self, origin: str, shots: Path):
        self.origin = origin
        self.shots = shots
        self.count = 0
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self.expected_statuses: set[tuple[int, str]] = set()

    def watch(self, page) -> None:
        page.on("console", lambda msg: self._console(page, msg))
        page.on("pageerror", lambda exc: self.console_errors.append(f"{page.url}: uncaught {exc}"))
        page.on("request", lambda req: self.requests.append(req.url))

    def _console(self, page, msg) -> None:
        if msg.type != "error":
            return
        # Chromium logs every resource answered with 4xx/5xx as "Failed to load resource: … status of N";
        # location["url"] is that resource. A test that provokes one on purpose (a wrong password → 401 on
        # /login) declares it with rec.expect_status(401, "/login").
        status = re.search(r"status of (\d{3})", msg.text)
        if "Failed to load resource" in msg.text and status:
            path = urlsplit((msg.location or {}).get("url", "")).path
            if (int(status.group(1)), path) in self.expected_statuses | KNOWN_APP_ISSUES:
                return
        self.console_errors.append(f"{page.url}: {msg.text} [{(msg.location or {}).get('url', '')}]")

    def expect_status(self, status: int, path: str) -> None:
        self.expected_statuses.add((status, path))

    def snap(self, page, name: str) -> Path:
        self.count += 1
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{self.count:02d}-{_slug(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def foreign_requests(self) -> list[str]:
        network = [u for u in self.requests if not u.startswith(("data:", "blob:", "about:"))]
        return [u for u in network if not (u == self.origin or u.startswith(self.origin + "/"))]

    def problems(self) -> list[str]:
        return ([f"console error: {e}" for e in self.console_errors]
                + [f"request to another host: {u}" for u in self.foreign_requests()])


@pytest.fixture
def rec(request, live_server) -> Recorder:
    shots = SCREENSHOTS / _slug(request.node.name)
    shutil.rmtree(shots, ignore_errors=True)
    return Recorder(live_server.origin, shots)


@pytest.fixture
def new_page(browser, live_server, rec):
    """new_page(viewport=(w, h), javascript=True, storage_state=None): a page in a context of its own (own cookies)."""
    contexts = []

    def make(viewport: tuple[int, int] = (1366, 768), javascript: bool = True, storage_state: dict | None = None):
        context = browser.new_context(base_url=live_server.origin, viewport={"width": viewport[0], "height": viewport[1]},
                                      locale="zh-CN", timezone_id="Asia/Shanghai", java_script_enabled=javascript,
                                      storage_state=storage_state)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        rec.watch(page)
        return page

    yield make
    for context in contexts:
        context.close()
    problems = rec.problems()
    if problems:
        pytest.fail("pages of this test misbehaved:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def snap(rec):
    return rec.snap


@pytest.fixture
def login(live_server, snap):
    """login(page, who): sign in through the form; who is a username (u532302) or a role (leadership)."""
    from playwright.sync_api import expect

    def do(page, who: str):
        username = ROLE_USERS.get(who, who)
        password = live_server.accounts.get(username)
        assert password, f"no demo account {username!r}"
        page.goto("/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="登录").click()
        expect(page.locator(".who")).to_contain_text("退出")
        snap(page, f"login-{username}")
        return page

    return do


_SIGNED_IN: dict[str, dict] = {}  # username → the context's cookies after signing in once through the form


@pytest.fixture
def signed_in(new_page, login):
    """signed_in(who, viewport=…, javascript=…): a new page already signed in as `who` (the form is used once
    per session and user; later pages reuse its session cookie). The page is blank: go somewhere."""

    def make(who: str, **options):
        username = ROLE_USERS.get(who, who)
        if username in _SIGNED_IN:
            return new_page(storage_state=_SIGNED_IN[username], **options)
        page = login(new_page(**options), username)
        _SIGNED_IN[username] = page.context.storage_state()
        return page

    return make
