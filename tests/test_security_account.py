"""The account: session cookie flags, the change-password page (old password, new twice, the password
rules, throttled wrong guesses, audited), and the account pages needing a signed-in user."""
from __future__ import annotations

from sqlalchemy import select

from tracker import create_app
from tracker.admin.models import AdminEvent, LoginAttempt
from tracker.auth.models import User


def _session_cookie_header(resp) -> str:
    cookies = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies, resp.headers
    return cookies[0]


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user, login):
    make_user("zhang", "supervisor")
    header = _session_cookie_header(login("zhang"))
    parts = [p.strip().lower() for p in header.split(";")]
    assert "httponly" in parts and "samesite=lax" in parts
    assert "secure" not in parts  # plain http in development


def test_session_cookie_secure_when_configured(app, db, make_user, monkeypatch):
    make_user("zhang", "supervisor")
    monkeypatch.setenv("TRACKER_SECURE_COOKIES", "1")
    secure_app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                             "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False, "SERVER_NAME": "tracker.test"})
    secure_app.extensions["clock"] = app.extensions["clock"]
    assert secure_app.config["SESSION_COOKIE_SECURE"] is True and secure_app.config["REMEMBER_COOKIE_SECURE"] is True
    with secure_app.app_context():
        resp = secure_app.test_client().post("/login", data={"username": "zhang", "password": "Passw0rd!x"},
                                             base_url="https://tracker.test")
        parts = [p.strip().lower() for p in _session_cookie_header(resp).split(";")]
        from tracker.extensions import db as _db

        _db.session.remove()
        _db.engine.dispose()
    assert "secure" in parts and "httponly" in parts and "samesite=lax" in parts


def _change(client, old, new, confirm=None):
    return client.post("/account/password", data={"old_password": old, "new_password": new,
                                                  "confirm": new if confirm is None else confirm})


def test_change_password(client, db, make_user, login):
    make_user("zhang", "supervisor")
    assert client.get("/account/password").status_code == 302  # signed out: to the login page
    login("zhang")
    assert client.get("/account/password").status_code == 200
    wrong = _change(client, "not-my-pass1", "Better-pass2")
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.get_data(as_text=True)
    assert db.session.scalar(select(LoginAttempt.username)) == "zhang"
    short = _change(client, "Passw0rd!x", "ab1")
    assert short.status_code == 422 and "至少需要 8 个字符" in short.get_data(as_text=True)
    letters = _change(client, "Passw0rd!x", "onlyletters")
    assert letters.status_code == 422 and "字母和数字" in letters.get_data(as_text=True)
    mismatch = _change(client, "Passw0rd!x", "Better-pass2", "Better-pass3")
    assert mismatch.status_code == 422 and "不一致" in mismatch.get_data(as_text=True)
    same = _change(client, "Passw0rd!x", "Passw0rd!x")
    assert same.status_code == 422 and "不能与当前密码相同" in same.get_data(as_text=True)
    ok = _change(client, "Passw0rd!x", "Better-pass2")
    assert ok.status_code == 302
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == "zhang"))
    assert user.check_password("Better-pass2") and not user.check_password("Passw0rd!x")
    event = db.session.scalar(select(AdminEvent).where(AdminEvent.action == "password_change"))
    assert event.target == f"user:{user.id}" and "Better-pass2" not in str(event.data)
    client.post("/logout")
    assert client.post("/login", data={"username": "zhang", "password": "Passw0rd!x"}).status_code == 401
    assert client.post("/login", data={"username": "zhang", "password": "Better-pass2"}).status_code == 302


def test_wrong_old_password_is_throttled(client, db, make_user, login):
    make_user("zhang", "supervisor")
    login("zhang")
    for _ in range(5):
        assert _change(client, "guess-number1", "Better-pass2").status_code == 422
    resp = _change(client, "Passw0rd!x", "Better-pass2")
    assert resp.status_code == 429
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.username == "zhang")).check_password("Passw0rd!x")
