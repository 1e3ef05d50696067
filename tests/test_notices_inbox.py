"""The in-app inbox, its unread count, mark-read, preferences and the dead-letter page."""
from __future__ import annotations

from datetime import datetime

from flask import render_template_string
from flask_login import login_user
from sqlalchemy import select

from tracker.models import NoticePreference, Notification
from tracker.notices.outbox import enqueue


def _notice(db, user, n: int, link: str = "http://127.0.0.1:5000/tasks/1", channel: str = "inapp"):
    enqueue([user.id], kind="reminder", key=f"k{n}", subject=f"【到期提醒】任务{n}", body="正文", link=link, channel=channel)
    db.session.commit()


def test_inbox_lists_my_notices_with_unread_count(app, db, client, make_user, login):
    me, other = make_user("lingdao", "leadership"), make_user("duxue", "supervisor")
    for i in range(3):
        _notice(db, me, i)
    _notice(db, other, 9)
    _notice(db, me, 7, channel="email")  # not an in-app notice
    login("lingdao")
    page = client.get("/notices/")
    assert page.status_code == 200
    assert "未读 3" in page.text and "【到期提醒】任务2" in page.text
    assert "任务9" not in page.text and "任务7" not in page.text
    with app.test_request_context():
        login_user(me)
        assert render_template_string("{{ unread_notice_count() }}") == "3"


def test_mark_read_open_and_read_all(app, db, client, make_user, login):
    me = make_user("lingdao", "leadership")
    other = make_user("duxue", "supervisor")
    for i in range(3):
        _notice(db, me, i)
    _notice(db, other, 9)
    mine = db.session.scalars(select(Notification).where(Notification.user_id == me.id).order_by(Notification.id)).all()
    theirs = db.session.scalar(select(Notification).where(Notification.user_id == other.id))
    login("lingdao")
    assert client.post(f"/notices/{mine[0].id}/read").status_code == 302
    assert "未读 2" in client.get("/notices/").text
    opened = client.get(f"/notices/{mine[1].id}/open")
    assert opened.status_code == 302 and opened.headers["Location"] == "/tasks/1"
    assert "未读 1" in client.get("/notices/").text
    assert client.post(f"/notices/{theirs.id}/read").status_code == 404
    assert client.get(f"/notices/{theirs.id}/open").status_code == 404
    client.post("/notices/read-all")
    assert "未读 0" in client.get("/notices/").text
    db.session.expire_all()
    assert db.session.get(Notification, theirs.id).read_at is None


def test_open_never_redirects_off_site(db, client, make_user, login):
    me = make_user("lingdao", "leadership")
    _notice(db, me, 1, link="https://evil.example/phish")
    login("lingdao")
    n = db.session.scalar(select(Notification))
    assert client.get(f"/notices/{n.id}/open").headers["Location"].endswith("/notices/")


def test_preferences_form(db, client, make_user, login):
    me = make_user("lingdao", "leadership")
    login("lingdao")
    page = client.get("/notices/preferences")
    assert page.status_code == 200
    assert '<input checked id="digest_daily"' in page.text and '<input checked id="email_enabled"' in page.text
    bad = client.post("/notices/preferences", data={"email_enabled": "y", "webhook_url": "ftp://x", "webhook_flavor": "dingtalk"})
    assert bad.status_code == 422 and "http://" in bad.text
    bad = client.post("/notices/preferences", data={"webhook_url": "https://robot.example/send", "webhook_flavor": "wecom",
                                                     "webhook_secret": "abc"})
    assert bad.status_code == 422 and "企业微信" in bad.text
    ok = client.post("/notices/preferences", data={"webhook_url": "https://robot.example/send", "webhook_flavor": "dingtalk",
                                                    "webhook_secret": "SECabc"})
    assert ok.status_code == 302
    pref = db.session.get(NoticePreference, me.id)
    assert (pref.email_enabled, pref.digest_daily, pref.webhook_secret) == (False, False, "SECabc")
    client.post("/notices/preferences", data={"email_enabled": "y", "digest_daily": "y",
                                              "webhook_url": "https://robot.example/send", "webhook_flavor": "dingtalk"})
    db.session.expire_all()
    pref = db.session.get(NoticePreference, me.id)
    assert (pref.email_enabled, pref.digest_daily, pref.webhook_secret) == (True, True, "SECabc")  # blank keeps the secret
    assert "SECabc" not in client.get("/notices/preferences").text


def test_dead_letters_are_for_admins(db, client, make_user, login):
    make_user("lingdao", "leadership")
    login("lingdao")
    assert client.get("/notices/dead").status_code == 403
    assert client.post("/notices/dead/retry").status_code == 403


def test_retry_requeues_dead_rows(db, client, make_user, login, clock):
    me = make_user("admin1", "admin")
    _notice(db, me, 1, channel="email")
    n = db.session.scalar(select(Notification))
    n.status, n.attempts, n.last_error, n.next_attempt_at = "dead", 5, "SMTP 550", None
    db.session.commit()
    login("admin1")
    page = client.get("/notices/dead")
    assert "SMTP 550" in page.text and "已放弃" in page.text
    client.post("/notices/dead/retry", data={"id": n.id})
    db.session.expire_all()
    n = db.session.get(Notification, n.id)
    assert (n.status, n.attempts) == ("pending", 0) and n.next_attempt_at == datetime(2026, 11, 23, 1, 0)
