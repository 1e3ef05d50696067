"""Object-level authorization on every route: app.url_map × every method × every role, against a table.

The world: the Chuxiong plan; a task of 禄丰市 accepted by its unit, with a progress report, an evidence
file and a pending extension request; school data and an evaluation of 禄丰市 2025 with an evidence file
behind a county entry; a slippage flag; an in-app notice and a spare API token of the 禄丰市 user; and
the supervision module's world (tests/test_supervision_permissions.py: an interview of 禄丰市 with a
missed rectification item and an accountability record), whose expected rows this table takes in.
Callers: anonymous, admin, leadership, supervisor, the 禄丰市 unit user ("own") and the 楚雄市 unit
user ("other"). Pages use the session cookie; /api/v1 uses Bearer tokens.

A route (endpoint and method) missing from EXPECTED fails the test: a new route must be classified here.

Outcomes:
    OK     authorized: not 401/403/404 and not sent to the login page (a form may still refuse the input)
    SEEN   the object is visible; the action may still be refused by role (403 allowed; not 401/404)
    DENY   403 or 404            FORBID  exactly 403            HIDE  exactly 404 (existence not revealed)
    LOGIN  302 to the login page (anonymous on a page)          AUTH  401 JSON (anonymous on the API)
"""
from __future__ import annotations

import io
from datetime import date

from flask.testing import FlaskClient
from sqlalchemy import select

from tests.helpers import PDF_BYTES, task_of, unit_named
from tests.test_api_support import school_row, school_xlsx, token_for
from tests.test_supervision_permissions import EXPECTED as SUPERVISION_EXPECTED
from tests.test_supervision_permissions import supervision_world
from tracker.clock import utcnow

ROLES = ("anon", "admin", "lead", "sup", "own", "other")

#: (endpoint, method) → outcome for anon, admin, leadership, supervisor, own unit, other county's unit
EXPECTED: dict[tuple[str, str], str] = {
    # ── pages: tasks ──
    ("tasks.home", "GET"): "LOGIN OK OK OK OK OK",
    ("tasks.index", "GET"): "LOGIN OK OK OK OK OK",
    ("tasks.detail", "GET"): "LOGIN OK OK OK OK HIDE",
    ("tasks.fire", "POST"): "LOGIN OK OK OK OK HIDE",
    ("tasks.progress", "POST"): "LOGIN OK OK OK OK HIDE",
    ("tasks.upload", "POST"): "LOGIN OK OK OK OK HIDE",
    ("tasks.extension", "POST"): "LOGIN OK OK OK OK HIDE",
    ("tasks.download", "GET"): "LOGIN OK OK OK OK HIDE",
    ("tasks.decide", "POST"): "LOGIN FORBID OK OK FORBID FORBID",
    ("tasks.review", "GET"): "LOGIN OK OK OK FORBID FORBID",
    ("tasks.calendar_feed", "GET"): "OK OK OK OK OK OK",  # the secret in the URL is the credential
    # ── pages: sign-in, account ──
    ("auth.login", "GET"): "OK OK OK OK OK OK",
    ("auth.login", "POST"): "OK OK OK OK OK OK",
    ("auth.logout", "POST"): "LOGIN LOGIN LOGIN LOGIN LOGIN LOGIN",  # signed out: back to the login page
    ("i18n.switch", "POST"): "OK OK OK OK OK OK",  # the display language: anyone, own account only
    ("account.tokens_page", "GET"): "LOGIN OK OK OK OK OK",
    ("account.tokens_page", "POST"): "LOGIN OK OK OK OK OK",
    ("account.revoke", "POST"): "LOGIN OK HIDE HIDE OK HIDE",
    ("account.password", "GET"): "LOGIN OK OK OK OK OK",
    ("account.password", "POST"): "LOGIN OK OK OK OK OK",
    # ── pages: admin ──
    ("admin.policy", "GET"): "LOGIN OK FORBID FORBID FORBID FORBID",
    ("admin.policy", "POST"): "LOGIN OK FORBID FORBID FORBID FORBID",
    ("admin.users", "GET"): "LOGIN OK FORBID FORBID FORBID FORBID",
    ("admin.users", "POST"): "LOGIN OK FORBID FORBID FORBID FORBID",
    ("admin.update_user", "POST"): "LOGIN OK FORBID FORBID FORBID FORBID",
    ("admin.audit_log", "GET"): "LOGIN OK FORBID FORBID FORBID FORBID",
    # ── pages: dashboard, ledgers, plans ──
    ("dashboard.index", "GET"): "LOGIN OK OK OK FORBID FORBID",
    ("dashboard.weekly", "GET"): "LOGIN OK OK OK FORBID FORBID",
    ("dashboard.task_ledger", "GET"): "LOGIN OK OK OK OK OK",
    ("dashboard.overdue_ledger", "GET"): "LOGIN OK OK OK OK OK",
    ("plans.index", "GET"): "LOGIN OK OK OK OK OK",
    ("plans.detail", "GET"): "LOGIN OK OK OK OK OK",
    ("plans.measure", "GET"): "LOGIN OK OK OK OK OK",
    # ── pages: indicators (the county is 禄丰市, the own unit's) ──
    ("indicators.index", "GET"): "LOGIN OK OK OK OK OK",
    ("indicators.county", "GET"): "LOGIN OK OK OK OK HIDE",
    ("indicators.county_year", "GET"): "LOGIN OK OK OK OK HIDE",
    ("indicators.evaluate", "POST"): "LOGIN OK OK OK OK HIDE",
    ("indicators.trend", "GET"): "LOGIN OK OK OK OK HIDE",
    ("indicators.entries", "GET"): "LOGIN OK OK OK OK HIDE",
    ("indicators.entries", "POST"): "LOGIN OK OK OK OK HIDE",
    ("indicators.entry_file", "GET"): "LOGIN OK OK OK OK HIDE",
    ("indicators.upload", "GET"): "LOGIN OK FORBID FORBID OK OK",
    ("indicators.upload", "POST"): "LOGIN OK FORBID FORBID OK OK",
    ("indicators.template", "GET"): "LOGIN OK OK OK OK OK",
    ("indicators.catalog", "GET"): "LOGIN OK OK OK OK OK",
    ("indicators.catalog_rules", "POST"): "LOGIN OK FORBID FORBID FORBID FORBID",
    ("indicators.catalog_edit", "POST"): "LOGIN OK FORBID FORBID FORBID FORBID",
    ("indicators.flags", "GET"): "LOGIN OK OK OK FORBID FORBID",
    ("indicators.resolve_flag", "POST"): "LOGIN OK FORBID OK FORBID FORBID",
    ("indicators.task_panel", "GET"): "LOGIN OK OK OK OK HIDE",
    ("indicators.attach", "POST"): "LOGIN OK OK OK OK HIDE",
    ("static", "GET"): "OK OK OK OK OK OK",
    # ── pages: notices (the notice belongs to the own unit's user) ──
    ("notices.inbox", "GET"): "LOGIN OK OK OK OK OK",
    ("notices.open_notice", "GET"): "LOGIN HIDE HIDE HIDE OK HIDE",
    ("notices.mark_read", "POST"): "LOGIN HIDE HIDE HIDE OK HIDE",
    ("notices.mark_all_read", "POST"): "LOGIN OK OK OK OK OK",
    ("notices.preferences", "GET"): "LOGIN OK OK OK OK OK",
    ("notices.preferences", "POST"): "LOGIN OK OK OK OK OK",
    ("notices.dead_letters", "GET"): "LOGIN OK FORBID FORBID FORBID FORBID",
    ("notices.retry", "POST"): "LOGIN OK FORBID FORBID FORBID FORBID",
    # ── API ──
    ("api.openapi_document", "GET"): "OK OK OK OK OK OK",
    ("api.me", "GET"): "AUTH OK OK OK OK OK",
    ("api.plans", "GET"): "AUTH OK OK OK OK OK",
    ("api.plan_detail", "GET"): "AUTH OK OK OK OK OK",
    ("api.measures", "GET"): "AUTH OK OK OK OK OK",
    ("api.measure_detail", "GET"): "AUTH OK OK OK OK OK",
    ("api.units", "GET"): "AUTH OK OK OK OK OK",
    ("api.tasks", "GET"): "AUTH OK OK OK OK OK",
    ("api.task_detail", "GET"): "AUTH OK OK OK OK HIDE",
    ("api.task_history", "GET"): "AUTH OK OK OK OK HIDE",
    ("api.fire_event", "POST"): "AUTH SEEN SEEN SEEN OK HIDE",
    ("api.progress_list", "GET"): "AUTH OK OK OK OK HIDE",
    ("api.progress_create", "POST"): "AUTH SEEN SEEN SEEN OK HIDE",
    ("api.evidence_list", "GET"): "AUTH OK OK OK OK HIDE",
    ("api.evidence_upload", "POST"): "AUTH SEEN SEEN SEEN OK HIDE",
    ("api.evidence_download", "GET"): "AUTH OK OK OK OK HIDE",
    ("api.extension_list", "GET"): "AUTH OK OK OK OK HIDE",
    ("api.extension_create", "POST"): "AUTH SEEN SEEN SEEN OK HIDE",
    ("api.extensions", "GET"): "AUTH OK OK OK OK OK",
    ("api.extension_decide", "POST"): "AUTH SEEN OK OK SEEN HIDE",
    ("api.counties", "GET"): "AUTH OK OK OK OK OK",
    ("api.county_evaluations", "GET"): "AUTH OK OK OK OK HIDE",
    ("api.county_evaluation", "GET"): "AUTH OK OK OK OK HIDE",
    ("api.county_evaluate", "POST"): "AUTH OK SEEN OK OK HIDE",
    ("api.school_import", "POST"): "AUTH OK FORBID FORBID OK OK",
    ("api.flags", "GET"): "AUTH OK OK OK FORBID FORBID",
    ("api.flag_resolve", "POST"): "AUTH FORBID FORBID OK FORBID FORBID",
    ("api.notifications", "GET"): "AUTH OK OK OK OK OK",
    ("api.notification_read", "POST"): "AUTH HIDE HIDE HIDE OK HIDE",
    ("api.notifications_read_all", "POST"): "AUTH OK OK OK OK OK",
    # ── pages: supervision — rows kept beside that module's own tests, shaped for this table ──
    **SUPERVISION_EXPECTED,
}


def build_world(app, db, make_user) -> dict:
    """The rows every route's URL parameters point at (see the module docstring)."""
    from tests.conftest import CHUXIONG
    from tracker.api.auth import create_token
    from tracker.indicators import operations as ind_ops
    from tracker.indicators.models import CountyEntryFile, CountyFlag
    from tracker.notices.models import Notification
    from tracker.plans.operations import import_plan
    from tracker.plans.planfile import read_plan_file
    from tracker.tasks import operations as ops
    from tracker.tasks.calendar import calendar_token

    import_plan(read_plan_file(CHUXIONG))
    db.session.commit()
    users = {"admin": make_user("admin1", "admin"), "lead": make_user("lingdao", "leadership"),
             "sup": make_user("duxue", "supervisor"), "own": make_user("lufeng", "unit", "532302"),
             "other": make_user("chuxiong", "unit", "532301")}
    own = users["own"]
    task = task_of("禄丰市")
    task.deadline = date(2026, 12, 31)
    ops.fire(task, "accept", own)
    ops.report_progress(task, own, 30, "进展")
    evidence = ops.add_evidence(task, own, io.BytesIO(PDF_BYTES), "方案.pdf")
    extension = ops.request_extension(task, own, date(2027, 1, 31), "资金未到位")
    lufeng = unit_named("禄丰市")
    ind_ops.import_schools(school_xlsx([school_row("5323020001", county="禄丰市")]), "s.xlsx", 2025, None,
                           evaluate_after=True)
    ind_ops.set_entry(lufeng, 2025, "G1", "是", "", None, [(io.BytesIO(PDF_BYTES), "证明.pdf")], evaluate_after=False)
    entry_file = db.session.scalar(select(CountyEntryFile))
    flag = CountyFlag(unit_id=lufeng.id, kind="slippage", year=2025, detail={}, created_at=utcnow())
    note = Notification(user_id=own.id, channel="inapp", kind="reminder", key="authz", subject="提醒", body="",
                        link="", status="sent", created_at=utcnow(), data={})
    db.session.add_all([flag, note])
    spare, _secret = create_token(own, "备用", 30)
    db.session.commit()
    # an interview of 禄丰市 (held) with a missed rectification item and an accountability record (moves the clock 2 days)
    supervision = supervision_world(lufeng.code, users["sup"])
    tokens = {role: token_for(user) for role, user in users.items()}
    values = {"task_id": task.id, "evidence_id": evidence.id, "request_id": extension.id, "flag_id": flag.id,
              "file_id": entry_file.id, "user_id": users["other"].id, "code": lufeng.code, "year": 2025,
              "plan_id": task.plan_id, "measure_id": task.measure_id, "token_id": spare.id, "notification_id": note.id,
              "notice_id": note.id,
              "filename": "style.css"}
    overrides = {"indicators.catalog_edit": {"code": "G1"},
                 "tasks.calendar_feed": {"user_id": own.id, "token": calendar_token(own)},
                 **{f"supervision.{name}": supervision for name in (
                     "board", "instruct", "review", "instructions", "flags", "resolve_flag", "interviews", "new_interview",
                     "interview", "hold", "close", "cancel", "add_item", "accountability", "document", "files",
                     "unit_file", "unit_file_xlsx")}}
    values.update({k: v for k, v in supervision.items() if k not in values})  # interview_id, item_id, record_id
    return {"users": users, "tokens": tokens, "values": values, "overrides": overrides, "task": task}


def world_path(app, world: dict, rule, method: str = "GET") -> str:
    """The URL of ``rule`` for the objects of ``build_world`` (with the per-endpoint overrides)."""
    values = {**world["values"], **world["overrides"].get(rule.endpoint, {})}
    return app.url_map.bind("tracker.test").build(rule.endpoint, {a: values[a] for a in rule.arguments}, method=method)


def session_cookies(app, users: dict) -> dict:
    """Each role's signed session cookie, captured once (sent by hand so /logout cannot end it)."""
    cookies = {}
    for role, user in users.items():
        client = app.test_client()
        resp = client.post("/login", data={"username": user.username, "password": "Passw0rd!x"})
        assert resp.status_code == 302, (role, resp.status_code)
        cookies[role] = client.get_cookie("session", domain="tracker.test").value
    return cookies


#: well-formed bodies, so that what differs between callers is the authorization, not the input
API_BODIES = {
    "api.fire_event": {"json": {"event": "accept", "version": 1}},
    "api.progress_create": {"json": {"percent": 10, "text": "进展", "version": 1}},
    "api.extension_create": {"json": {"new_deadline": "2027-02-28", "reason": "理由", "version": 1}},
    "api.extension_decide": {"json": {"decision": "approve", "comment": "同意"}},
    "api.flag_resolve": {"json": {"note": "已处理"}},
    "api.evidence_upload": {"multipart": {"version": "1"}, "file": "file"},
    "api.school_import": {"multipart": {"year": "2025"}, "file": "file"},
}


def _request(client: FlaskClient, path: str, method: str, endpoint: str, headers: dict):
    if endpoint.startswith("api.") and endpoint in API_BODIES:
        spec = API_BODIES[endpoint]
        if "json" in spec:
            return client.open(path, method=method, json=spec["json"], headers=headers)
        data = dict(spec["multipart"])
        data[spec["file"]] = (io.BytesIO(PDF_BYTES), "x.pdf")
        return client.open(path, method=method, data=data, headers=headers, content_type="multipart/form-data")
    return client.open(path, method=method, data={} if method == "POST" else None, headers=headers)


def _outcome_ok(expected: str, resp) -> bool:
    status = resp.status_code
    to_login = status in (301, 302, 303) and "/login" in resp.headers.get("Location", "")
    return {
        "OK": status not in (401, 403, 404) and not to_login and status < 500,
        "SEEN": status not in (401, 404) and not to_login and status < 500,
        "DENY": status in (403, 404),
        "FORBID": status == 403,
        "HIDE": status == 404,
        "LOGIN": to_login,
        "AUTH": status == 401 and resp.is_json and resp.get_json()["error"]["code"] == "unauthorized",
    }[expected]


def test_every_route_is_classified(app):
    routes = {(r.endpoint, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    missing = sorted(routes - set(EXPECTED))
    assert not missing, f"routes without an expected-access row in tests/test_routes_authz.py: {missing}"
    stale = sorted(set(EXPECTED) - routes)
    assert not stale, f"rows for routes that no longer exist: {stale}"
    for key, row in EXPECTED.items():
        assert len(row.split()) == len(ROLES), key


def test_every_route_every_method_every_role(app, db, make_user):
    world = build_world(app, db, make_user)
    cookies = session_cookies(app, world["users"])
    client = app.test_client(use_cookies=False)
    failures = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            expected = EXPECTED.get((rule.endpoint, method))
            if expected is None:
                failures.append(f"{method} {rule.rule} ({rule.endpoint}): not classified")
                continue
            path = world_path(app, world, rule, method)
            api = rule.endpoint.startswith("api.")
            for role, want in zip(ROLES, expected.split()):
                headers = {}
                if role != "anon":
                    headers = ({"Authorization": f"Bearer {world['tokens'][role]}"} if api
                               else {"Cookie": f"session={cookies[role]}"})
                resp = _request(client, path, method, rule.endpoint, headers)
                if not _outcome_ok(want, resp):
                    failures.append(f"{method} {path} ({rule.endpoint}) as {role}: expected {want}, "
                                    f"got {resp.status_code} {resp.headers.get('Location', '')}")
    assert not failures, "\n".join(failures)


def test_api_ignores_a_valid_session_cookie_and_calendar_needs_its_secret(app, db, make_user):
    world = build_world(app, db, make_user)
    cookies = session_cookies(app, {"admin": world["users"]["admin"]})
    client = app.test_client(use_cookies=False)
    for path in ("/api/v1/tasks/{task_id}", "/api/v1/me", "/api/v1/notifications"):
        resp = client.get(path.format(**world["values"]), headers={"Cookie": f"session={cookies['admin']}"})
        assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized", path
    own = world["users"]["own"]
    assert client.get(f"/calendar/{own.id}/{'0' * 40}.ics").status_code == 404
