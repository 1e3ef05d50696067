"""The task journey in the browser's terms (HTTP): a unit takes a task to 待审核, a supervisor returns then verifies."""
from __future__ import annotations

import io
import re

from sqlalchemy import select

from tests.helpers import PDF_BYTES, task_of, unit_named
from tracker.models import Evidence, Task, TaskEvent


def _version(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page)[1]


def test_unit_to_submitted_supervisor_returns_then_verifies(app, db, chuxiong, make_user):
    lufeng = unit_named("禄丰市")
    make_user("lufeng", "unit", lufeng.code)
    make_user("duxue", "supervisor")
    task = task_of("禄丰市")
    unit = app.test_client()
    unit.post("/login", data={"username": "lufeng", "password": "Passw0rd!x"})
    page = unit.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "签收" in page and "待签收" in page
    resp = unit.post(f"/tasks/{task.id}/fire", data={"event": "accept", "version": _version(page)}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "已签收" in page and "办理中" in page
    page = unit.post(f"/tasks/{task.id}/progress", data={"percent": 80, "text": "完成全县学校摸底", "version": _version(page)},
                     follow_redirects=True).get_data(as_text=True)
    assert "进展已报送" in page and "完成全县学校摸底" in page
    page = unit.post(f"/tasks/{task.id}/evidence", data={"file": (io.BytesIO(PDF_BYTES), "摸底台账.pdf"), "version": _version(page)},
                     content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "摸底台账.pdf" in page
    page = unit.post(f"/tasks/{task.id}/fire", data={"event": "submit", "version": _version(page)}, follow_redirects=True).get_data(as_text=True)
    assert "待审核" in page

    sup = app.test_client()
    sup.post("/login", data={"username": "duxue", "password": "Passw0rd!x"})
    queue = sup.get("/review").get_data(as_text=True)
    assert f"/tasks/{task.id}" in queue and "待审核的报送（1）" in queue
    page = sup.get(f"/tasks/{task.id}").get_data(as_text=True)
    page = sup.post(f"/tasks/{task.id}/fire", data={"event": "return", "comment": "缺少学校名单", "version": _version(page)},
                    follow_redirects=True).get_data(as_text=True)
    assert "退回" in page and "缺少学校名单" in page

    page = unit.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "缺少学校名单" in page  # the unit sees the reason
    page = unit.post(f"/tasks/{task.id}/fire", data={"event": "resume", "version": _version(page)}, follow_redirects=True).get_data(as_text=True)
    page = unit.post(f"/tasks/{task.id}/fire", data={"event": "submit", "version": _version(page)}, follow_redirects=True).get_data(as_text=True)
    page = sup.get(f"/tasks/{task.id}").get_data(as_text=True)
    page = sup.post(f"/tasks/{task.id}/fire", data={"event": "verify", "version": _version(page)}, follow_redirects=True).get_data(as_text=True)
    assert "已办结" in page
    history = page.split('id="history"')[1]
    for step in ("签收", "报送进展", "上传佐证材料", "报送", "退回", "重新办理", "办结"):
        assert step in history, step
    db.session.expire_all()
    assert db.session.get(Task, task.id).status == "completed"
    assert db.session.query(TaskEvent).filter_by(task_id=task.id).count() == 8


def test_stale_form_is_refused_with_message(app, db, chuxiong, make_user):
    make_user("lufeng", "unit", unit_named("禄丰市").code)
    task = task_of("禄丰市")
    a, b = app.test_client(), app.test_client()
    for c in (a, b):
        c.post("/login", data={"username": "lufeng", "password": "Passw0rd!x"})
    seen = _version(a.get(f"/tasks/{task.id}").get_data(as_text=True))
    b.post(f"/tasks/{task.id}/fire", data={"event": "accept", "version": seen})
    page = a.post(f"/tasks/{task.id}/fire", data={"event": "accept", "version": seen}, follow_redirects=True).get_data(as_text=True)
    assert "已被他人修改" in page
    assert db.session.query(TaskEvent).filter_by(task_id=task.id).count() == 1


def test_evidence_download_only_for_those_who_may_see(app, db, chuxiong, make_user):
    make_user("lufeng", "unit", unit_named("禄丰市").code)
    make_user("chuxiong", "unit", unit_named("楚雄市").code)
    make_user("duxue", "supervisor")
    task = task_of("禄丰市")
    from tracker.auth.models import User
    from tracker.tasks import operations as ops

    owner = db.session.scalar(select(User).where(User.username == "lufeng"))
    ops.fire(task, "accept", owner)
    item = ops.add_evidence(task, owner, io.BytesIO(PDF_BYTES), "证明.pdf")
    db.session.commit()
    outsider, supervisor = app.test_client(), app.test_client()
    outsider.post("/login", data={"username": "chuxiong", "password": "Passw0rd!x"})
    supervisor.post("/login", data={"username": "duxue", "password": "Passw0rd!x"})
    assert outsider.get(f"/evidence/{item.id}").status_code == 404
    resp = supervisor.get(f"/evidence/{item.id}")
    assert resp.status_code == 200 and resp.data == PDF_BYTES
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.mimetype == "application/pdf"
    assert db.session.scalar(select(Evidence.filename).where(Evidence.id == item.id)) == "证明.pdf"
    # an outsider cannot act on the task either
    assert outsider.post(f"/tasks/{task.id}/fire", data={"event": "submit", "version": "1"}).status_code == 404
    assert app.test_client().get(f"/evidence/{item.id}").status_code == 302  # anonymous → login
