"""Who may do what in supervision: every supervision route × every role against a table, plus the same rules
in the services (so the CLI and API cannot get round them).

The world: the Chuxiong plan; an interview of 禄丰市 (held) with one missed rectification item owned by 禄丰市 and
an accountability record with a PDF; an overdue flag of 禄丰市. Callers: anonymous, admin, leadership, supervisor,
the 禄丰市 unit user ("own") and the 楚雄市 unit user ("other").

Outcomes: OK (not 401/403/404, not sent to the login page, no 5xx) · FORBID (403) · HIDE (404) · LOGIN (to the login page).
`supervision_world` and EXPECTED are shaped like tests/test_routes_authz.py so its table can take these rows.
"""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.helpers import PDF_BYTES, task_of, unit_named
from tracker.clock import LOCAL_TZ
from tracker.errors import Forbidden
from tracker.models import CountyFlag
from tracker.supervision import accountability, board, flags
from tracker.supervision import operations as sup_ops

ROLES = ("anon", "admin", "lead", "sup", "own", "other")

EXPECTED: dict[tuple[str, str], str] = {
    ("supervision.board", "GET"): "LOGIN OK OK OK FORBID FORBID",
    ("supervision.instruct", "POST"): "LOGIN FORBID OK FORBID FORBID FORBID",
    ("supervision.review", "POST"): "LOGIN FORBID OK FORBID FORBID FORBID",
    ("supervision.instructions", "GET"): "LOGIN OK OK OK FORBID FORBID",
    ("supervision.flags", "GET"): "LOGIN OK OK OK FORBID FORBID",
    ("supervision.resolve_flag", "POST"): "LOGIN FORBID FORBID OK FORBID FORBID",
    ("supervision.interviews", "GET"): "LOGIN OK OK OK OK OK",
    ("supervision.new_interview", "GET"): "LOGIN FORBID FORBID OK FORBID FORBID",
    ("supervision.new_interview", "POST"): "LOGIN FORBID FORBID OK FORBID FORBID",
    ("supervision.interview", "GET"): "LOGIN OK OK OK OK HIDE",
    ("supervision.hold", "POST"): "LOGIN FORBID FORBID OK FORBID HIDE",
    ("supervision.close", "POST"): "LOGIN FORBID FORBID OK FORBID HIDE",
    ("supervision.cancel", "POST"): "LOGIN FORBID FORBID OK FORBID HIDE",
    ("supervision.add_item", "POST"): "LOGIN FORBID FORBID OK FORBID HIDE",
    ("supervision.accountability", "POST"): "LOGIN FORBID FORBID OK FORBID HIDE",
    ("supervision.document", "GET"): "LOGIN OK OK OK OK HIDE",
    ("supervision.files", "GET"): "LOGIN OK OK OK OK OK",
    ("supervision.unit_file", "GET"): "LOGIN OK OK OK OK HIDE",
    ("supervision.unit_file_xlsx", "GET"): "LOGIN OK OK OK OK HIDE",
}


def supervision_world(own_code: str, supervisor) -> dict:
    """An interview of the own unit, held, with a missed rectification item and an accountability record
    (with a PDF) on it, and an overdue flag; returns the URL values (interview_id, item_id, record_id, flag_id, code)."""
    from tracker.clock import get_clock
    from tracker.extensions import db
    from tracker.units.models import Unit

    clock = get_clock()
    unit = db.session.scalar(select(Unit).where(Unit.code == own_code))
    flags.refresh()
    flag = db.session.scalar(select(CountyFlag).where(CountyFlag.unit_id == unit.id, CountyFlag.kind == "overdue"))
    now = clock.now()
    interview = sup_ops.open_interview(supervisor, unit, scheduled_at=now, place="会议室", flag=None)
    sup_ops.hold_interview(interview, supervisor, minutes="记录", outcome="限期整改")
    item = sup_ops.add_item(interview, supervisor, text="整改事项", unit=unit, deadline=clock.today())
    db.session.commit()
    clock.advance(days=2)
    record = accountability.record_accountability(item, supervisor, type="通报批评", doc_number="文号1", decided_on=clock.today(),
                                           stream=io.BytesIO(PDF_BYTES), filename="决定.pdf")
    db.session.commit()
    return {"interview_id": interview.id, "item_id": item.id, "record_id": record.id, "flag_id": flag.id, "code": own_code}


@pytest.fixture
def world(app, db, chuxiong, make_user):
    users = {"admin": make_user("admin1", "admin"), "lead": make_user("lingdao", "leadership"),
             "sup": make_user("duxue", "supervisor"), "own": make_user("lufeng", "unit", "532302"),
             "other": make_user("chuxiong", "unit", "532301")}
    values = supervision_world("532302", users["sup"])
    return {"users": users, "values": values}


def _ok(expected: str, resp) -> bool:
    status = resp.status_code
    to_login = status in (301, 302, 303) and "/login" in resp.headers.get("Location", "")
    return {"OK": status not in (401, 403, 404) and not to_login and status < 500,
            "FORBID": status == 403, "HIDE": status == 404, "LOGIN": to_login}[expected]


def test_every_supervision_route_is_classified(app):
    routes = {(r.endpoint, m) for r in app.url_map.iter_rules() if r.endpoint.startswith("supervision.")
              for m in r.methods - {"HEAD", "OPTIONS"}}
    assert routes == set(EXPECTED)


def test_every_route_every_role(app, world):
    clients = {"anon": app.test_client()}
    for role, user in world["users"].items():
        clients[role] = app.test_client()
        assert clients[role].post("/login", data={"username": user.username, "password": "Passw0rd!x"}).status_code == 302
    adapter = app.url_map.bind("tracker.test")
    failures = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("supervision."):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = adapter.build(rule.endpoint, {a: world["values"][a] for a in rule.arguments}, method=method)
            for role, want in zip(ROLES, EXPECTED[(rule.endpoint, method)].split()):
                resp = clients[role].open(path, method=method, data={} if method == "POST" else None)
                if not _ok(want, resp):
                    failures.append(f"{method} {path} as {role}: expected {want}, got {resp.status_code} "
                                    f"{resp.headers.get('Location', '')}")
    assert not failures, "\n".join(failures)


def test_unit_user_sees_only_its_own_interviews(app, world):
    own, other = app.test_client(), app.test_client()
    own.post("/login", data={"username": "lufeng", "password": "Passw0rd!x"})
    other.post("/login", data={"username": "chuxiong", "password": "Passw0rd!x"})
    link = f'/supervision/interviews/{world["values"]["interview_id"]}"'
    assert link in own.get("/supervision/interviews").get_data(as_text=True)
    assert link not in other.get("/supervision/interviews").get_data(as_text=True)
    assert other.get("/supervision/files").headers["Location"].endswith("/supervision/files/532301")


def test_a_department_owning_an_item_sees_that_interview(app, db, world, make_user):
    from tracker.supervision.models import Interview

    make_user("jyj", "unit", "ZJYTYJ")
    client = app.test_client()
    client.post("/login", data={"username": "jyj", "password": "Passw0rd!x"})
    interview_id = world["values"]["interview_id"]
    assert client.get(f"/supervision/interviews/{interview_id}").status_code == 404
    interview = db.session.get(Interview, interview_id)
    interview.status = "held"
    sup_ops.add_item(interview, world["users"]["sup"], text="州局配合", unit=unit_named("州教育体育局"),
                     deadline=date(2027, 6, 30))
    db.session.commit()
    assert client.get(f"/supervision/interviews/{interview_id}").status_code == 200
    assert client.post(f"/supervision/interviews/{interview_id}/hold", data={}).status_code == 403


@pytest.mark.parametrize("role", ["admin", "lead", "own"])
def test_services_refuse_the_wrong_role(db, world, role):
    from tracker.supervision.models import Interview, RectificationItem

    actor = world["users"][role]
    interview = db.session.get(Interview, world["values"]["interview_id"])
    item = db.session.get(RectificationItem, world["values"]["item_id"])
    calls = [
        lambda: sup_ops.open_interview(actor, unit_named("楚雄市"), scheduled_at=datetime(2027, 1, 5, 9, tzinfo=LOCAL_TZ),
                                       place="会议室"),
        lambda: sup_ops.hold_interview(interview, actor, minutes="x", outcome="y"),
        lambda: sup_ops.add_item(interview, actor, text="x", unit=unit_named("禄丰市"), deadline=date(2027, 1, 1)),
        lambda: sup_ops.close_interview(interview, actor),
        lambda: sup_ops.cancel_interview(interview, actor, reason="x"),
        lambda: accountability.record_accountability(item, actor, type="其他", doc_number="x", decided_on=date(2026, 11, 1)),
        lambda: flags.resolve(db.session.get(CountyFlag, world["values"]["flag_id"]), actor),
    ]
    if role != "lead":
        calls += [lambda: board.instruct(actor, [task_of("禄丰市").id], "批示"),
                  lambda: board.acknowledge(actor, [task_of("禄丰市").id])]
    for call in calls:
        with pytest.raises(Forbidden):
            call()
        db.session.rollback()
