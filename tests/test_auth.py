"""Sign-in, sign-out, CSRF, and the object-level rule: a unit user sees only its own tasks."""
from __future__ import annotations

from sqlalchemy import select

from tracker.models import Task, Unit


def _unit(db, name):
    return db.session.scalar(select(Unit).where(Unit.name == name))


def test_login_logout(client, make_user, login):
    make_user("admin1", "admin")
    assert client.get("/").status_code == 302
    bad = login("admin1", "wrong-password1")
    assert bad.status_code == 401 and "用户名或密码错误" in bad.get_data(as_text=True)
    ok = login("admin1")
    assert ok.status_code == 302
    assert "全部任务" in client.get("/", follow_redirects=True).get_data(as_text=True)
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_open_redirect_refused(client, make_user):
    make_user("admin1", "admin")
    resp = client.post("/login?next=https://evil.example/x", data={"username": "admin1", "password": "Passw0rd!x"})
    assert resp.headers["Location"].endswith("/")


def test_csrf_rejected_without_token(app, make_user):
    make_user("admin1", "admin")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        resp = client.post("/login", data={"username": "admin1", "password": "Passw0rd!x"})
        assert resp.status_code == 400
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        resp = client.post("/login", data={"username": "admin1", "password": "Passw0rd!x", "csrf_token": token})
        assert resp.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_unit_user_sees_only_own_tasks(client, chuxiong, db, make_user, login):
    lufeng, chuxiong_city = _unit(db, "禄丰市"), _unit(db, "楚雄市")
    make_user("lufeng", "unit", lufeng.code)
    login("lufeng")
    home = client.get("/").get_data(as_text=True)
    assert "禄丰市的任务" in home and "在办 23 项" in home
    assert "共 23 项" in client.get("/tasks").get_data(as_text=True)
    # asking for another county's tasks through the filter still shows none of them
    assert "共 0 项" in client.get(f"/tasks?county={chuxiong_city.id}").get_data(as_text=True)
    own = db.session.scalar(select(Task).where(Task.unit_id == lufeng.id).limit(1))
    other = db.session.scalar(select(Task).where(Task.unit_id == chuxiong_city.id).limit(1))
    assert client.get(f"/tasks/{own.id}").status_code == 200
    assert client.get(f"/tasks/{other.id}").status_code == 404
    measure_page = client.get(f"/plans/measures/{own.measure_id}").get_data(as_text=True)
    assert "楚雄市" not in measure_page.split("<h2>任务</h2>")[1]


def test_supervisor_sees_all(client, chuxiong, db, make_user, login):
    make_user("duxue", "supervisor")
    login("duxue")
    page = client.get("/tasks").get_data(as_text=True)
    assert f"共 {chuxiong['tasks']} 项" in page and "第 1/6 页" in page
    lufeng = _unit(db, "禄丰市")
    filtered = client.get(f"/tasks?county={lufeng.id}&q=教师").get_data(as_text=True)
    expected = sum(1 for t in db.session.scalars(select(Task).where(Task.unit_id == lufeng.id))
                   if "教师" in t.measure.title or "教师" in t.measure.text)
    assert expected > 0 and f"共 {expected} 项" in filtered
    overdue = client.get("/tasks?overdue=y").get_data(as_text=True)
    assert "共 46 项" in overdue  # 2 counties × 23 measures due at the end of 2025 (sample schedule)
    plan_page = client.get(f"/plans/{chuxiong['plan_id']}").get_data(as_text=True)
    assert "楚雄州义务教育优质均衡发展实施方案" in plan_page and "示例数据" in plan_page
    assert "（二十四）" in plan_page


def test_user_add_cli_reads_password_from_stdin(app, db, chuxiong):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["user", "add", "lf1", "--role", "unit", "--unit", "532302", "--json"], input="Secret123x\n")
    assert out.exit_code == 0, out.output
    from tracker.auth.models import User

    user = db.session.scalar(select(User).where(User.username == "lf1"))
    assert user.check_password("Secret123x") and user.unit.name == "禄丰市"
    weak = runner.invoke(args=["user", "add", "lf2", "--role", "unit", "--unit", "532302"], input="short\n")
    assert weak.exit_code == 1 and "密码" in weak.output
    nounit = runner.invoke(args=["user", "add", "lf3", "--role", "unit", "--unit", "NOPE"], input="Secret123x\n")
    assert nounit.exit_code == 1 and "NOPE" in nounit.output


def test_login_throttled_per_account(client, make_user):
    make_user("admin1", "admin")
    for _ in range(5):
        assert client.post("/login", data={"username": "admin1", "password": "wrong-one-1"}).status_code == 401
    blocked = client.post("/login", data={"username": "admin1", "password": "Passw0rd!x"})
    assert blocked.status_code == 429 and "登录失败次数过多" in blocked.get_data(as_text=True)


def test_login_throttle_window_passes(client, make_user, clock):
    make_user("admin1", "admin")
    for _ in range(5):
        client.post("/login", data={"username": "admin1", "password": "wrong-one-1"})
    clock.advance(minutes=16)  # the window is 15 minutes
    assert client.post("/login", data={"username": "admin1", "password": "Passw0rd!x"}).status_code == 302


def test_security_headers_and_cookie_flags(client, make_user):
    resp = client.get("/login")
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    make_user("admin1", "admin")
    signed_in = client.post("/login", data={"username": "admin1", "password": "Passw0rd!x"})
    set_cookie = signed_in.headers.get("Set-Cookie", "")
    assert "session=" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie


def test_admin_user_management_is_audited(client, make_user, login, db, chuxiong):
    from tracker.admin.models import AdminEvent

    make_user("admin1", "admin")
    login("admin1")
    resp = client.post("/admin/users", data={"username": "zhang", "password": "Abcdefg123", "role": "unit",
                                              "unit_code": "532301", "display_name": "张三"}, follow_redirects=True)
    assert "已创建用户 zhang" in resp.get_data(as_text=True)
    from tracker.models import User

    zhang = db.session.scalar(select(User).where(User.username == "zhang"))
    client.post(f"/admin/users/{zhang.id}", data={"active": "0"})
    db.session.refresh(zhang)
    assert zhang.active is False
    actions = [e.action for e in db.session.scalars(select(AdminEvent).order_by(AdminEvent.id))]
    assert actions[-2:] == ["user_create", "user_update"]
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "user_update" in page
    resp = client.post("/admin/policy", data={"reminder_days": "30,7,1", "due_soon_days": "7", "escalate_after_days": "10",
                                              "interview_after_days": "5", "behind_tolerance": "0.15", "stale_days": "30",
                                              "extension_limit_days": "90"})
    assert resp.status_code == 422 and "必须大于" in resp.get_data(as_text=True)
    resp = client.post("/admin/policy", data={"reminder_days": "15,3", "due_soon_days": "5", "escalate_after_days": "10",
                                              "interview_after_days": "40", "behind_tolerance": "0.2", "stale_days": "20",
                                              "extension_limit_days": "60"}, follow_redirects=True)
    assert "督办策略已保存" in resp.get_data(as_text=True)
    from tracker.tasks.policy_store import load_policy
    from flask import g

    g.pop("escalation_policy", None)
    assert load_policy().reminder_days == (15, 3) and load_policy().escalate_after_days == 10
    assert db.session.scalar(select(AdminEvent).order_by(AdminEvent.id.desc())).action == "policy_update"


def test_non_admin_cannot_reach_admin_pages(client, make_user, login):
    make_user("sup", "supervisor")
    login("sup")
    for path in ("/admin/users", "/admin/policy", "/admin/audit"):
        assert client.get(path).status_code == 403
    assert client.post("/admin/users", data={"username": "x", "password": "Abcdefg123", "role": "admin"}).status_code == 403
