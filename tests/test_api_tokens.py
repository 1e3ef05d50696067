"""Personal API tokens: made on the account page (shown once, stored hashed), revoked there, expiring;
the API accepts only them — never the session cookie — and acts with the user's own permissions."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import select

from tests.helpers import task_of
from tests.test_api_support import API, bearer, error_of, token_for
from tracker.admin.models import AdminEvent
from tracker.api.models import ApiToken


def _create_on_page(client, name="数据对接", days="90"):
    resp = client.post("/account/tokens", data={"name": name, "days": days})
    assert resp.status_code == 201, resp.get_data(as_text=True)[:500]
    page = resp.get_data(as_text=True)
    secret = re.search(r'<code id="new-token" class="secret">(ydb_[A-Za-z0-9_-]{43})</code>', page)[1]
    return resp, secret


def test_token_created_on_the_page_shown_once_and_stored_hashed(client, db, make_user, login):
    make_user("zhang", "supervisor")
    login("zhang")
    resp, secret = _create_on_page(client)
    assert resp.headers["Cache-Control"] == "no-store"
    row = db.session.scalar(select(ApiToken))
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.prefix == secret[:12] and secret not in (row.name, row.prefix)
    assert row.expires_at is not None and row.expires_at - row.created_at == timedelta(days=90)
    # the list shows the prefix only; the secret is never shown again
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert row.prefix in listing and secret not in listing and "数据对接" in listing
    # it works, as this user
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.get_json()["user"]["username"] == "zhang"
    audit = db.session.scalar(select(AdminEvent).where(AdminEvent.action == "token_create"))
    assert audit.target == f"token:{row.id}" and audit.data["prefix"] == row.prefix and secret not in str(audit.data)


def test_revoked_and_expired_tokens_are_refused(client, db, make_user, login, clock):
    make_user("zhang", "supervisor")
    login("zhang")
    _resp, secret = _create_on_page(client, days="30")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"{API}/plans", headers=headers).status_code == 200
    clock.advance(days=31)
    err = error_of(client.get(f"{API}/plans", headers=headers))
    assert err["code"] == "unauthorized" and "过期" in err["message"]
    clock.advance(days=-31)
    row = db.session.scalar(select(ApiToken))
    resp = client.post(f"/account/tokens/{row.id}/revoke")
    assert resp.status_code == 302
    err = error_of(client.get(f"{API}/plans", headers=headers))
    assert err["status"] == 401 and "撤销" in err["message"]
    assert "已撤销" in client.get("/account/tokens").get_data(as_text=True)
    assert db.session.scalar(select(AdminEvent).where(AdminEvent.action == "token_revoke")) is not None


def test_cannot_revoke_someone_elses_token(client, db, make_user, login):
    other = make_user("li", "leadership")
    secret = token_for(other)
    make_user("zhang", "supervisor")
    login("zhang")
    row = db.session.scalar(select(ApiToken))
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 404
    assert client.get(f"{API}/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_api_never_accepts_the_session_cookie(client, db, make_user, login):
    make_user("admin1", "admin")
    login("admin1")
    assert client.get("/tasks").status_code == 200  # signed in on the pages
    for method, path in (("GET", "/plans"), ("GET", "/tasks"), ("POST", "/notifications/read-all")):
        err = error_of(client.open(f"{API}{path}", method=method))
        assert err["code"] == "unauthorized"
    resp = client.get(f"{API}/me")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_malformed_and_unknown_tokens(client, db, make_user):
    make_user("admin1", "admin")
    for header in ("Bearer", "Bearer ", "Basic YWRtaW46eA==", "Bearer ydb_short", "Token ydb_" + "a" * 43,
                   "Bearer ydb_" + "a" * 43, "Bearer ydb_" + "a" * 42 + "\u00e9"):
        resp = client.get(f"{API}/me", headers={"Authorization": header})
        assert error_of(resp)["code"] == "unauthorized", header


def test_deactivated_user_token_refused_and_permissions_follow_the_role(client, db, make_user, chuxiong):
    user = make_user("lufeng", "unit", "532302")
    headers = bearer(user)
    own, other = task_of("禄丰市"), task_of("楚雄市")
    assert client.get(f"{API}/tasks/{own.id}", headers=headers).status_code == 200
    assert client.get(f"{API}/tasks/{other.id}", headers=headers).status_code == 404
    assert client.get(f"{API}/tasks?per_page=200", headers=headers).get_json()["total"] == 23
    user.active = False
    db.session.commit()
    assert client.get(f"{API}/me", headers=headers).status_code == 401


def test_last_used_is_written_at_most_once_a_minute(client, db, make_user, clock):
    user = make_user("zhang", "supervisor")
    headers = bearer(user)
    client.get(f"{API}/me", headers=headers)
    first = db.session.scalar(select(ApiToken.last_used_at))
    assert first is not None
    clock.advance(seconds=30)
    client.get(f"{API}/me", headers=headers)
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.last_used_at)) == first
    clock.advance(seconds=31)
    client.get(f"{API}/me", headers=headers)
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.last_used_at)) > first


def test_api_responses_set_no_cookie(client, db, make_user):
    headers = bearer(make_user("zhang", "supervisor"))
    for path in ("/me", "/plans", "/nowhere"):
        resp = client.get(f"{API}{path}", headers=headers)
        assert "Set-Cookie" not in resp.headers, path


def test_token_form_validation(client, db, make_user, login):
    make_user("zhang", "supervisor")
    login("zhang")
    assert client.post("/account/tokens", data={"name": "", "days": "30"}).status_code == 422
    assert client.post("/account/tokens", data={"name": "x", "days": "7"}).status_code == 422
    assert client.post("/account/tokens", data={"name": "x" * 101, "days": "30"}).status_code == 422
    _resp, _secret = _create_on_page(client, days="0")
    assert db.session.scalar(select(ApiToken.expires_at)) is None
    assert client.get("/account/tokens").status_code == 200
