"""CSRF: every state-changing page form refuses a POST without the token (400); the API is exempt
because it never accepts the session cookie — a cookie-only POST is 401, a Bearer POST needs no token."""
from __future__ import annotations

from contextlib import contextmanager

import pytest

from tests.test_routes_authz import build_world, session_cookies, world_path

API = "/api/v1"


@contextmanager
def csrf_enabled(app):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def csrf_on(app):
    with csrf_enabled(app):
        yield


def _post_rules(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods:
            yield rule


def test_every_page_post_without_token_is_400(app, db, make_user):
    world = build_world(app, db, make_user)
    cookies = session_cookies(app, world["users"])
    with csrf_enabled(app):
        _every_page_post_is_400(app, world, cookies)


def _every_page_post_is_400(app, world, cookies):
    client = app.test_client(use_cookies=False)
    checked, failures = 0, []
    for rule in _post_rules(app):
        if rule.rule.startswith(API):
            continue
        path = world_path(app, world, rule, "POST")
        for who, headers in (("admin", {"Cookie": f"session={cookies['admin']}"}), ("anon", {})):
            resp = client.post(path, data={"name": "x", "comment": "x"}, headers=headers)
            checked += 1
            if resp.status_code != 400:
                failures.append(f"POST {path} as {who}: {resp.status_code}")
    assert not failures, "\n".join(failures)
    assert checked >= 2 * 20


def test_api_posts_take_no_csrf_token_but_never_a_cookie(app, db, make_user):
    world = build_world(app, db, make_user)
    cookies = session_cookies(app, world["users"])
    with csrf_enabled(app):
        _api_posts(app, world, cookies)


def _api_posts(app, world, cookies):
    client = app.test_client(use_cookies=False)
    for rule in _post_rules(app):
        if not rule.rule.startswith(API):
            continue
        path = world_path(app, world, rule, "POST")
        resp = client.post(path, json={}, headers={"Cookie": f"session={cookies['admin']}"})
        assert resp.status_code == 401, (path, resp.status_code)
    # with a Bearer token the same POST goes through without any CSRF token
    token = world["tokens"]["own"]
    resp = client.post(f"{API}/notifications/read-all", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_json()


def test_page_forms_carry_the_token(app, db, make_user, csrf_on):
    """With CSRF on, the forms still work when submitted with the token they render."""
    make_user("zhang", "supervisor")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/login", data={"username": "zhang", "password": "Passw0rd!x", "csrf_token": token}).status_code == 302
    page = client.get("/account/tokens").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/account/tokens", data={"name": "脚本", "days": "30"}).status_code == 400
    assert client.post("/account/tokens", data={"name": "脚本", "days": "30", "csrf_token": token}).status_code == 201
