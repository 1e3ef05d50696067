"""Indicators, plans, units and the inbox over the API: school data import (all or nothing), county
evaluations visible as on the pages, flags for overseers, notifications only one's own."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from tests.test_api_support import caller_factory, count, error_of, school_row, school_xlsx
from tracker.clock import utcnow
from tracker.indicators.models import CountyEvaluation, CountyFlag, SchoolYear
from tracker.notices.models import Notification


@pytest.fixture
def as_user(client, make_user):
    return caller_factory(client, make_user)


def _upload(caller, data: bytes, name: str = "schools.xlsx", year: str = "2025", **extra):
    return caller.post("/schools/imports", data={"file": (io.BytesIO(data), name), "year": year, **extra},
                       content_type="multipart/form-data")


def test_school_import_evaluates_and_counties_are_scoped(db, chuxiong, as_user):
    admin = as_user("admin1", "admin")
    rows = [school_row("5323010001"), school_row("5323010002", primary=300), school_row("5323020001", county="禄丰市")]
    resp = _upload(admin, school_xlsx(rows))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["rows"] == 3 and body["year"] == 2025 and len(body["evaluations"]) == 2
    assert count(CountyEvaluation) == 2

    lufeng = as_user("lufeng", "unit", "532302")
    counties = lufeng.get("/counties").get_json()["items"]
    assert [c["unit"]["code"] for c in counties] == ["532302"]
    assert counties[0]["evaluation"]["year"] == 2025
    assert len(admin.get("/counties").get_json()["items"]) == 10
    assert as_user("jyj", "unit", "ZJYTYJ").get("/counties").get_json()["items"] == []

    detail = lufeng.get("/counties/532302/evaluations/2025").get_json()
    assert detail["unit"]["name"] == "禄丰市" and isinstance(detail["result"], dict) and isinstance(detail["gaps"], list)
    assert error_of(lufeng.get("/counties/532301/evaluations/2025"))["status"] == 404
    assert error_of(lufeng.get("/counties/532301/evaluations"))["status"] == 404
    assert error_of(lufeng.get("/counties/532302/evaluations/2024"))["status"] == 404
    assert [e["year"] for e in lufeng.get("/counties/532302/evaluations").get_json()["items"]] == [2025]

    again = lufeng.post("/counties/532302/evaluations/2025")
    assert again.status_code == 200 and "effects" in again.get_json()
    assert error_of(lufeng.post("/counties/532302/evaluations/2024"))["status"] == 422  # no school data that year
    assert error_of(as_user("lingdao", "leadership").post("/counties/532302/evaluations/2025"))["status"] == 403


def test_school_import_refusals_change_nothing(db, chuxiong, as_user):
    lufeng = as_user("lufeng", "unit", "532302")
    before = count(SchoolYear)
    # another county's rows: refused row by row
    err = error_of(_upload(lufeng, school_xlsx([school_row("5323010001")])))
    assert err["status"] in (403, 422)
    bad = school_xlsx([school_row("5323020001", county="禄丰市", primary=-5)])
    err = error_of(_upload(lufeng, bad))
    assert err["status"] == 422 and err["details"]["problems"] and err["details"]["problems"][0]["row"] == 2
    err = error_of(_upload(lufeng, b"not a workbook", name="x.xlsx"))
    assert err["status"] == 422
    err = error_of(_upload(lufeng, school_xlsx([school_row("5323020001", county="禄丰市")]), year="1999"))
    assert err["status"] == 422 and "year" in err["details"]["fields"]
    assert error_of(as_user("duxue", "supervisor").post(
        "/schools/imports", data={"file": (io.BytesIO(b"x"), "a.csv"), "year": "2025"},
        content_type="multipart/form-data"))["status"] == 403
    assert count(SchoolYear) == before == 0


def test_flags_for_overseers_only(db, chuxiong, as_user):
    from tests.helpers import unit_named

    flag = CountyFlag(unit_id=unit_named("禄丰市").id, kind="slippage", year=2025, detail={"x": 1.5},
                      created_at=utcnow())
    db.session.add(flag)
    db.session.commit()
    sup = as_user("duxue", "supervisor")
    items = sup.get("/flags?kind=slippage").get_json()["items"]
    assert [f["unit"]["code"] for f in items] == ["532302"] and items[0]["detail"] == {"x": 1.5}
    assert items[0]["kind_label"] == "创建后滑坡" and items[0]["reasons"]
    # the computed flags (overdue tasks of 2025) are refreshed on reading, as on the page
    overdue = sup.get("/flags?kind=overdue&open=true").get_json()["items"]
    assert overdue and all(f["kind"] == "overdue" and not f["resolved"] for f in overdue)
    assert error_of(as_user("lufeng", "unit", "532302").get("/flags"))["status"] == 403
    lead = as_user("lingdao", "leadership")
    assert lead.get("/flags?open=true&kind=slippage").get_json()["items"][0]["resolved"] is False
    assert error_of(lead.post(f"/flags/{flag.id}/resolve", json={}))["status"] == 403
    assert error_of(as_user("admin1", "admin").post(f"/flags/{flag.id}/resolve", json={}))["status"] == 403
    ok = sup.post(f"/flags/{flag.id}/resolve", json={"note": "已约谈"})
    assert ok.status_code == 200 and ok.get_json()["resolved"] is True and ok.get_json()["detail"]["note"] == "已约谈"
    assert error_of(sup.post(f"/flags/{flag.id}/resolve", json={}))["status"] == 422  # already handled
    assert lead.get("/flags?open=true&kind=slippage").get_json()["items"] == []
    assert error_of(sup.post("/flags/99999/resolve", json={}))["status"] == 404


def test_plans_measures_units(db, chuxiong, as_user):
    unit = as_user("lufeng", "unit", "532302")
    plans = unit.get("/plans").get_json()["items"]
    assert plans[0]["code"] == "chuxiong-2023" and plans[0]["measure_count"] == 24 and plans[0]["section_count"] == 7
    detail = unit.get(f"/plans/{plans[0]['id']}").get_json()
    assert len(detail["sections"]) == 7 and sum(len(s["measures"]) for s in detail["sections"]) == 24
    assert sum(detail["task_counts"].values()) == 23  # scoped to the unit's own tasks
    first = detail["sections"][0]["measures"][0]
    assert first["units"][0]["is_lead"] is True
    assert unit.get(f"/measures/{first['id']}").get_json()["number"] == first["number"]
    measures = unit.get(f"/measures?plan_id={plans[0]['id']}&per_page=10").get_json()
    assert measures["total"] == 24 and len(measures["items"]) == 10
    assert error_of(unit.get("/plans/999"))["status"] == 404
    assert error_of(unit.get("/measures/999"))["status"] == 404
    units = unit.get("/units?kind=county").get_json()
    assert units["total"] == 10
    assert unit.get("/units?q=禄丰").get_json()["items"][0]["code"] == "532302"
    assert unit.get("/units?q=%25").get_json()["total"] == 0  # LIKE wildcards are literal


def test_notifications_are_ones_own(db, chuxiong, as_user):
    me = as_user("lufeng", "unit", "532302")
    other = as_user("chuxiong", "unit", "532301")
    now = utcnow()
    rows = [Notification(user_id=u.user.id, channel=channel, kind="reminder", key=f"k{i}", subject=f"提醒{i}",
                         body="", link="", status="sent", created_at=now, data={})
            for i, (u, channel) in enumerate([(me, "inapp"), (me, "inapp"), (me, "email"), (other, "inapp")])]
    db.session.add_all(rows)
    db.session.commit()
    inbox = me.get("/notifications").get_json()
    assert inbox["total"] == 2 and inbox["unread"] == 2
    assert error_of(me.post(f"/notifications/{rows[3].id}/read"))["status"] == 404
    assert error_of(me.post(f"/notifications/{rows[2].id}/read"))["status"] == 404  # e-mail rows are not the inbox
    ok = me.post(f"/notifications/{rows[0].id}/read")
    assert ok.status_code == 200 and ok.get_json()["read"] is True
    assert me.get("/notifications?unread=true").get_json()["total"] == 1
    assert me.post("/notifications/read-all").get_json() == {"marked": 1}
    assert me.get("/notifications").get_json()["unread"] == 0
    db.session.expire_all()
    assert db.session.get(Notification, rows[3].id).read_at is None
    assert db.session.scalar(select(Notification.read_at).where(Notification.id == rows[2].id)) is None


def test_json_shapes_have_no_nan():
    from datetime import date, datetime

    from tracker.api.serialize import clean, iso

    assert clean({"a": float("nan"), "b": [float("inf"), 1.5, (date(2026, 1, 2),)], 3: {"c": -float("inf")}}) == {
        "a": None, "b": [None, 1.5, ["2026-01-02"]], "3": {"c": None}}
    assert iso(datetime(2026, 11, 23, 1, 0, 0, 123)) == "2026-11-23T01:00:00Z" and iso(None) is None
