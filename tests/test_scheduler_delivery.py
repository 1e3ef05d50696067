"""Delivery end to end: a real SMTP server and a real HTTP server on loopback receive what the
scheduler sends — digests, single mails, retries after an outage, dead letters, weekly briefings,
working-day deferral."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from tracker.clock import LOCAL_TZ
from tracker.models import NoticePreference, Notification, Task, Unit
from tracker.scheduler.jobs import run_job, tick
from tracker.tasks.policy_store import save_policy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """aiosmtpd on 127.0.0.1; keeps every received mail parsed (subject, to, plain and HTML body)."""

    def __init__(self):
        self.port = free_port()
        self.messages: list[dict] = []
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        html = msg.get_body(("html",))
        self.messages.append({"to": envelope.rcpt_tos, "subject": str(msg["Subject"]),
                              "text": msg.get_body(("plain",)).get_content(),
                              "html": html.get_content() if html else "", "message_id": msg["Message-ID"],
                              "key": msg["X-Tracker-Key"]})
        return "250 OK"

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[dict]:
        return [m for m in self.messages if address in m["to"]]


class HookServer:
    """http.server in a thread: records each POSTed JSON; answers ``status``."""

    def __init__(self, status: int = 200):
        self.status, self.requests = status, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode":0,"errmsg":"ok"}')

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mail(app, monkeypatch):
    sink = SmtpSink()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", sink.port)
    yield sink
    sink.stop()


@pytest.fixture
def hook():
    server = HookServer()
    yield server
    server.stop()


def at(clock, y, m, d, hh=9, mm=0):
    clock.set(datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ))


def code_of(db, name):
    return db.session.scalar(select(Unit.code).where(Unit.name == name))


def person(db, make_user, username, role, unit=None, email_address=None, **prefs):
    user = make_user(username, role, code_of(db, unit) if unit else None)
    user.email = email_address
    if prefs:
        db.session.add(NoticePreference(user_id=user.id, **prefs))
    db.session.commit()
    return user


def rows(db, **where):
    db.session.expire_all()
    stmt = select(Notification).order_by(Notification.id)
    for k, v in where.items():
        stmt = stmt.where(getattr(Notification, k) == v)
    return list(db.session.scalars(stmt))


def keep_only(db, unit_name, deadline):
    """Cancel a unit's tasks but one, which gets `deadline`; returns that task."""
    tasks = db.session.scalars(select(Task).join(Unit, Unit.id == Task.unit_id).where(Unit.name == unit_name)
                               .order_by(Task.id)).all()
    db.session.execute(update(Task).where(Task.id.in_([t.id for t in tasks[1:]])).values(status="cancelled"))
    db.session.execute(update(Task).where(Task.id == tasks[0].id).values(deadline=deadline))
    db.session.commit()
    return tasks[0]


# --------------------------------------------------------------------------
# Daily digest (the default) and single mails
# --------------------------------------------------------------------------

def test_daily_digest_one_mail_per_person_listing_every_item(db, clock, chuxiong, make_user, mail):
    mail.start()
    dept = person(db, make_user, "jyj", "unit", "州教育体育局", "jyj@example.org")
    county = person(db, make_user, "cxs", "unit", "楚雄市", "cxs@example.org")
    at(clock, 2026, 12, 1, 9, 0)
    result = tick()
    assert result["daily_digest"]["status"] == "done" and result["dispatch"]["messages"] == 2
    for user, address in ((dept, "jyj@example.org"), (county, "cxs@example.org")):
        got = mail.to(address)
        assert len(got) == 1
        items = rows(db, user_id=user.id, channel="email")
        assert items and all(r.status == "sent" and r.batch == "daily:2026-12-01" for r in items)
        assert got[0]["subject"].startswith(f"【每日待办】2026年12月1日：共{len(items)}项任务需关注")
        assert "您好" in got[0]["text"] and "http://127.0.0.1:5000/tasks/" in got[0]["text"]
        assert "<table" in got[0]["html"]
    dept_mail = mail.to("jyj@example.org")[0]["text"]
    assert "州教育体育局" in dept_mail and "还剩30天" in dept_mail
    assert "已逾期335天" in mail.to("cxs@example.org")[0]["text"]  # 楚雄市's 2025 tasks
    # later the same day, and the next day with nothing new: nothing more is sent
    at(clock, 2026, 12, 1, 10, 0)
    tick()
    at(clock, 2026, 12, 2, 9, 0)
    assert tick()["dispatch"]["messages"] == 0
    assert len(mail.messages) == 2


def test_immediate_mode_sends_the_notice_itself(db, clock, chuxiong, make_user, mail):
    mail.start()
    user = person(db, make_user, "jyj", "unit", "州教育体育局", "jyj@example.org", digest_daily=False)
    task = keep_only(db, "州教育体育局", date(2026, 12, 31))
    at(clock, 2026, 12, 24, 10, 0)
    tick(["sweep", "dispatch"])
    got = mail.to("jyj@example.org")
    assert len(got) == 1
    assert got[0]["subject"].startswith("【到期提醒】任务“") and got[0]["subject"].endswith("距截止还有7天")
    assert f"http://127.0.0.1:5000/tasks/{task.id}" in got[0]["text"]
    assert got[0]["key"] == f"reminder:task={task.id}:days=7:due=2026-12-31"
    assert [r.status for r in rows(db, user_id=user.id, channel="email")] == ["sent"]


def test_email_switched_off_gets_in_app_only(db, clock, chuxiong, make_user, mail):
    mail.start()
    user = person(db, make_user, "jyj", "unit", "州教育体育局", "jyj@example.org", email_enabled=False)
    at(clock, 2026, 12, 1, 9, 0)
    tick()
    assert mail.messages == [] and rows(db, user_id=user.id, channel="email") == []
    assert rows(db, user_id=user.id, channel="inapp")


# --------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------

def test_smtp_down_at_first_then_every_notice_arrives_exactly_once(db, clock, chuxiong, make_user, mail):
    users = [person(db, make_user, "jyj", "unit", "州教育体育局", "jyj@example.org"),
             person(db, make_user, "czj", "unit", "州财政局", "czj@example.org")]
    at(clock, 2026, 12, 1, 9, 0)
    first = tick()  # the server is not running: connection refused
    queued = rows(db, channel="email")
    assert queued and first["dispatch"]["failed"] == len(queued) and mail.messages == []
    assert {(r.status, r.attempts) for r in queued} == {("failed", 1)}
    assert all(r.next_attempt_at == datetime(2026, 12, 1, 1, 1) for r in queued)  # now + 60 s (UTC)
    clock.advance(seconds=61)
    assert run_job("dispatch")["failed"] == len(queued)
    assert {(r.status, r.attempts) for r in rows(db, channel="email")} == {("failed", 2)}
    mail.start()  # the server comes back
    assert run_job("dispatch")["due"] == 0  # the backoff (120 s) is not over yet
    clock.advance(seconds=121)
    result = run_job("dispatch")
    assert result["sent"] == len(queued) and result["messages"] == 2
    for user in users:
        got = mail.to(user.email)
        assert len(got) == 1
        assert f"共{len(rows(db, user_id=user.id, channel='email'))}项" in got[0]["subject"]
    assert {(r.status, r.attempts) for r in rows(db, channel="email")} == {("sent", 3)}
    clock.advance(hours=2)
    tick()
    assert len(mail.messages) == 2


def test_webhook_500_retried_with_backoff_then_dead_then_admin_retry(app, db, clock, chuxiong, make_user, hook,
                                                                     monkeypatch, client, login):
    monkeypatch.setitem(app.config, "NOTICE_MAX_ATTEMPTS", 3)
    hook.status = 500
    user = person(db, make_user, "jyj", "unit", "州教育体育局", None, digest_daily=False,
                  webhook_url=hook.url, webhook_flavor="generic", webhook_secret="s3cret")
    keep_only(db, "州教育体育局", date(2026, 12, 31))
    at(clock, 2026, 12, 24, 10, 0)
    tick(["sweep", "dispatch"])
    [row] = rows(db, user_id=user.id, channel="webhook")
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, datetime(2026, 12, 24, 2, 1))
    assert "HTTP 500" in row.last_error
    clock.advance(seconds=61)
    run_job("dispatch")
    [row] = rows(db, user_id=user.id, channel="webhook")
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 2, datetime(2026, 12, 24, 2, 3, 1))
    clock.advance(seconds=121)
    run_job("dispatch")
    [row] = rows(db, user_id=user.id, channel="webhook")
    assert (row.status, row.attempts) == ("dead", 3)
    clock.advance(days=1)
    run_job("dispatch")
    assert len(hook.requests) == 3  # dead letters are not retried by themselves

    make_user("admin1", "admin")
    login("admin1")
    page = client.get("/notices/dead")
    assert page.status_code == 200 and "已放弃" in page.text and row.subject in page.text
    hook.status = 200
    assert client.post("/notices/dead/retry", data={"id": row.id}).status_code == 302
    result = run_job("dispatch")
    assert result["sent"] == 1
    [row] = rows(db, user_id=user.id, channel="webhook")
    assert row.status == "sent"
    last = hook.requests[-1]
    assert len(hook.requests) == 4 and last["json"]["subject"] == row.subject
    assert "距截止还有7天" in last["json"]["subject"] and last["json"]["link"].startswith("http://127.0.0.1:5000/tasks/")
    assert last["headers"]["X-Tracker-Signature"].startswith("sha256=")


def test_unit_robot_gets_one_daily_message_for_the_unit(db, clock, chuxiong, make_user, hook, runner_invoke):
    person(db, make_user, "jyj", "unit", "州教育体育局", None)
    out = runner_invoke(["scheduler", "unit-webhook", "ZJYTYJ", hook.url, "--flavor", "dingtalk", "--secret", "SEC"])
    assert out.exit_code == 0, out.output
    at(clock, 2026, 12, 1, 9, 0)
    tick()
    assert len(hook.requests) == 1
    req = hook.requests[0]
    assert req["json"]["msgtype"] == "markdown" and "每日待办" in req["json"]["markdown"]["title"]
    assert "timestamp=" in req["path"] and "sign=" in req["path"]  # DingTalk 加签


@pytest.fixture
def runner_invoke(app):
    runner = app.test_cli_runner()
    return lambda args: runner.invoke(args=args)


# --------------------------------------------------------------------------
# Weekly leadership digest
# --------------------------------------------------------------------------

def test_weekly_digest_only_on_monday_morning_grouped_by_county(app, db, clock, chuxiong, make_user, mail, hook, monkeypatch):
    mail.start()
    monkeypatch.setitem(app.config, "LEADERSHIP_WEBHOOK_URL", hook.url)
    person(db, make_user, "lingdao", "leadership", None, "lingdao@example.org")
    at(clock, 2026, 11, 30, 8, 0)  # Monday, before 08:30
    assert tick()["weekly_digest"]["status"] == "not_due"
    assert mail.messages == [] and hook.requests == []
    at(clock, 2026, 11, 30, 8, 30)
    result = tick()["weekly_digest"]
    assert result["status"] == "done" and result["overdue"] == 46
    # the first tick also caught the county tasks up to 约谈 through 督办, which the leadership group hears of too
    weekly = lambda: [m for m in mail.to("lingdao@example.org") if "每周督办简报" in m["subject"]]  # noqa: E731
    weekly_hooks = lambda: [r for r in hook.requests if "每周督办简报" in r["json"]["markdown"]["title"]]  # noqa: E731
    [got] = weekly()
    assert got["subject"] == "【每周督办简报】2026年11月23日—2026年11月29日：逾期任务46项"
    text = got["text"]
    assert "■ 楚雄市（23项）" in text and "■ 禄丰市（23项）" in text and "▲ 县（市）人民政府（23项）" in text
    assert text.index("■ 楚雄市") < text.index("■ 禄丰市")
    assert "【约谈】" in text and "http://127.0.0.1:5000/tasks/" in text
    assert "楚雄市" in got["html"] and "<h3" in got["html"]
    assert len(weekly_hooks()) == 1
    # later that Monday, and on Tuesday: nothing more
    at(clock, 2026, 11, 30, 10, 0)
    assert tick()["weekly_digest"]["status"] == "already_done"
    at(clock, 2026, 12, 1, 8, 30)
    assert tick()["weekly_digest"]["status"] == "not_due"
    assert len(weekly()) == 1 and len(weekly_hooks()) == 1


def test_nothing_overdue_nothing_sent(db, clock, make_user, mail):
    mail.start()
    person(db, make_user, "lingdao", "leadership", None, "lingdao@example.org")
    at(clock, 2026, 11, 30, 8, 30)
    result = tick()
    assert result["weekly_digest"]["overdue"] == 0 and result["dispatch"]["messages"] == 0
    assert rows(db) == [] and mail.messages == []


# --------------------------------------------------------------------------
# Working days
# --------------------------------------------------------------------------

def test_mail_falling_on_national_day_waits_for_the_next_working_day(db, clock, chuxiong, make_user, mail):
    """2026-10-01..07 are holidays: a reminder queued on 10-03 is in the inbox at once, but its e-mail (digest
    or single) goes out on Thursday 10-08 at 08:30."""
    mail.start()
    save_policy({"working_days": True}, None)
    db.session.commit()
    digest_user = person(db, make_user, "jyj", "unit", "州教育体育局", "jyj@example.org")
    single_user = person(db, make_user, "czj", "unit", "州财政局", "czj@example.org", digest_daily=False)
    keep_only(db, "州教育体育局", date(2026, 10, 9))
    keep_only(db, "州财政局", date(2026, 10, 9))
    at(clock, 2026, 10, 3, 9, 0)
    result = tick()
    assert result["daily_digest"]["deferred"]
    assert [r.kind for r in rows(db, user_id=digest_user.id, channel="inapp") if r.kind == "reminder"] == ["reminder"]
    [single] = [r for r in rows(db, user_id=single_user.id, channel="email") if r.kind == "reminder"]
    assert single.next_attempt_at == datetime(2026, 10, 8, 0, 30)  # 08:30 China time
    for day in (4, 5, 6, 7):
        at(clock, 2026, 10, day, 9, 0)
        tick()
    assert mail.messages == []
    at(clock, 2026, 10, 8, 8, 30)
    tick()
    assert len(mail.to("jyj@example.org")) == 1 and len(mail.to("czj@example.org")) == 1
    assert "2026年10月9日" in mail.to("czj@example.org")[0]["text"]
