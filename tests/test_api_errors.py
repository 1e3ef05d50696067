"""The API's error shape, whatever raised the error: routing (404/405), the services, the state
machine, an unexpected exception (500, rolled back) — while the pages keep their Chinese HTML pages."""
from __future__ import annotations

from sqlalchemy import func, select

from tests.helpers import task_of
from tests.test_api_support import API, bearer, error_of
from tracker.tasks.models import TaskEvent


def test_unknown_paths_and_methods_answer_in_json(client, db, make_user):
    headers = bearer(make_user("zhang", "supervisor"))
    for path in ("/nope", "/tasks/abc", "/tasks/1/nope", "/plans/", "", "/v2/tasks", "/tasks/-1"):
        err = error_of(client.get(API + path, headers=headers))
        assert err["code"] == "not_found" and err["status"] == 404, path
    err = error_of(client.get(API + "/nope"))  # anonymous too: nothing there either way
    assert err["status"] == 404
    resp = client.delete(f"{API}/tasks", headers=headers)
    err = error_of(resp)
    assert err["code"] == "method_not_allowed" and "GET" in resp.headers["Allow"]
    assert error_of(client.put(f"{API}/me", headers=headers))["status"] == 405
    assert resp.headers["Cache-Control"] == "no-store"


def test_pages_keep_html_errors(client, db, make_user, login):
    make_user("zhang", "supervisor")
    login("zhang")
    resp = client.get("/no-such-page")
    assert resp.status_code == 404 and resp.mimetype == "text/html" and "页面不存在" in resp.get_data(as_text=True)
    resp = client.get("/api")  # outside /api/v1: an ordinary page 404
    assert resp.status_code == 404 and resp.mimetype == "text/html"


def test_unexpected_exception_is_a_json_500_and_rolls_back(app, client, db, chuxiong, make_user, monkeypatch):
    from tracker.api import tasks as api_tasks

    user = make_user("lufeng", "unit", "532302")
    task = task_of("禄丰市")

    def broken(*_args):
        raise RuntimeError("boom")

    monkeypatch.setattr(api_tasks, "allowed_events", broken)
    err = error_of(client.get(f"{API}/tasks/{task.id}", headers=bearer(user)))
    assert err["status"] == 500 and err["code"] == "server_error" and "boom" not in err["message"]
    # a failure half-way through a change leaves nothing behind
    from tracker.tasks import operations as ops

    def half_done(task_, event, actor, **kw):
        ops._audit(task_, actor, "accept", comment="half")
        raise RuntimeError("midway")

    monkeypatch.setattr(api_tasks.ops, "fire", half_done)
    before = db.session.scalar(select(func.count()).select_from(TaskEvent))
    err = error_of(client.post(f"{API}/tasks/{task.id}/events", json={"event": "accept", "version": 1},
                               headers=bearer(user)))
    assert err["status"] == 500
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(TaskEvent)) == before


def test_error_codes_are_stable(client, db, chuxiong, make_user):
    from tracker.api.errors import CODES

    assert {CODES[s] for s in (400, 401, 403, 404, 409, 413, 422)} == {
        "bad_request", "unauthorized", "forbidden", "not_found", "conflict", "too_large", "invalid"}
    user = make_user("lufeng", "unit", "532302")
    task = task_of("禄丰市")
    resp = client.post(f"{API}/tasks/{task.id}/events", data="{", content_type="application/json", headers=bearer(user))
    assert error_of(resp)["code"] == "bad_request"
