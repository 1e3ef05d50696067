"""Tasks over the API: the same services as the pages — filters and pages, detail with the caller's
allowed events, the whole lifecycle with its 409/403/422 answers, progress, evidence, extensions."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from tests.helpers import PDF_BYTES, PNG_BYTES, task_of
from tests.test_api_support import caller_factory, count, error_of
from tracker.tasks.models import Evidence, ExtensionRequest, ProgressReport, Task, TaskEvent


@pytest.fixture
def as_user(client, make_user):
    return caller_factory(client, make_user)


def _version(task_id: int) -> int:
    from tracker.extensions import db

    db.session.expire_all()
    return db.session.get(Task, task_id).version


def test_list_filters_and_pages(db, chuxiong, as_user):
    admin = as_user("admin1", "admin")
    everything = admin.get("/tasks").get_json()
    assert everything["total"] == 300 and everything["per_page"] == 50 and len(everything["items"]) == 50
    assert everything["pages"] == 6
    page = admin.get("/tasks?per_page=200&page=2").get_json()
    assert len(page["items"]) == 100 and page["page"] == 2
    assert admin.get("/tasks?unit=532302").get_json()["total"] == 23
    assert admin.get("/tasks?unit_kind=department&per_page=1").get_json()["total"] == 300 - 230
    assert admin.get("/tasks?status=completed").get_json()["total"] == 0
    assert admin.get("/tasks?ladder=normal&per_page=1").get_json()["total"] == 300
    measure_id = task_of("禄丰市", "三").measure_id
    by_measure = admin.get(f"/tasks?measure={measure_id}").get_json()
    assert by_measure["total"] >= 10 and {t["measure"] for t in by_measure["items"]} == {"三"}
    overdue = admin.get("/tasks?overdue=true&per_page=200").get_json()
    assert overdue["total"] > 0 and all(t["deadline"] < "2026-11-23" for t in overdue["items"])
    assert admin.get("/tasks?q=禄丰").get_json()["total"] == 23
    # per_page is capped; bad values are 422 naming the parameter
    err = error_of(admin.get("/tasks?per_page=201"))
    assert err["code"] == "invalid" and "per_page" in err["details"]["fields"]
    assert error_of(admin.get("/tasks?status=done"))["details"]["fields"]["status"]
    assert error_of(admin.get("/tasks?page=0"))["status"] == 422
    assert error_of(admin.get("/tasks?overdue=maybe"))["status"] == 422


def test_unit_user_sees_and_acts_only_on_its_own(db, chuxiong, as_user):
    lufeng = as_user("lufeng", "unit", "532302")
    listing = lufeng.get("/tasks?per_page=200").get_json()
    assert listing["total"] == 23 and {t["unit_code"] for t in listing["items"]} == {"532302"}
    assert lufeng.get("/tasks?unit=532301").get_json()["total"] == 0
    other = task_of("楚雄市")
    for path in (f"/tasks/{other.id}", f"/tasks/{other.id}/history", f"/tasks/{other.id}/progress",
                 f"/tasks/{other.id}/evidence", f"/tasks/{other.id}/extensions"):
        assert error_of(lufeng.get(path))["code"] == "not_found", path
    resp = lufeng.post(f"/tasks/{other.id}/events", json={"event": "accept", "version": 1})
    assert error_of(resp)["status"] == 404
    assert _version(other.id) == 1


def test_whole_lifecycle_over_the_api(db, chuxiong, as_user):
    task = task_of("禄丰市")
    unit = as_user("lufeng", "unit", "532302")
    sup = as_user("duxue", "supervisor")
    lead = as_user("lingdao", "leadership")

    detail = unit.get(f"/tasks/{task.id}").get_json()
    assert [e["event"] for e in detail["allowed_events"]] == ["accept"]
    assert detail["version"] == 1 and detail["status"] == "assigned"
    assert sup.get(f"/tasks/{task.id}").get_json()["allowed_events"] == [] or all(
        e["machine"] == "ladder" for e in sup.get(f"/tasks/{task.id}").get_json()["allowed_events"])

    # leadership cannot accept: role → 403, nothing written
    err = error_of(lead.post(f"/tasks/{task.id}/events", json={"event": "accept", "version": 1}))
    assert err["code"] == "forbidden" and err["details"]["refusal"]["code"] == "role_forbidden"
    ok = unit.post(f"/tasks/{task.id}/events", json={"event": "accept", "version": 1})
    assert ok.status_code == 200, ok.get_json()
    result = ok.get_json()
    assert (result["from"], result["to"], result["status"], result["machine"]) == ("assigned", "in_progress", "in_progress", "lifecycle")
    version = result["version"]
    assert version == _version(task.id) == 2

    # stale version → 409; wrong state → 409; guard (no progress/evidence) → 422
    assert error_of(unit.post(f"/tasks/{task.id}/events", json={"event": "submit", "version": 1}))["code"] == "conflict"
    err = error_of(unit.post(f"/tasks/{task.id}/events", json={"event": "accept", "version": version}))
    assert err["status"] == 409 and err["details"]["refusal"]["code"] == "invalid_state"
    err = error_of(unit.post(f"/tasks/{task.id}/events", json={"event": "submit", "version": version}))
    assert err["status"] == 422 and err["details"]["refusal"]["code"] == "missing_progress_or_evidence"

    resp = unit.post(f"/tasks/{task.id}/progress", json={"percent": 80, "text": "已制定方案", "version": version})
    assert resp.status_code == 201 and resp.get_json()["percent"] == 80
    version = resp.get_json()["task_version"]
    resp = unit.post(f"/tasks/{task.id}/evidence", data={"file": (io.BytesIO(PDF_BYTES), "方案.pdf"),
                                                         "note": "印发稿", "version": str(version)})
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    assert item["filename"] == "方案.pdf" and item["mimetype"] == "application/pdf" and item["size"] == len(PDF_BYTES)
    version = _version(task.id)
    ok = unit.post(f"/tasks/{task.id}/events", json={"event": "submit", "version": version})
    assert ok.status_code == 200 and ok.get_json()["to"] == "submitted"
    version = ok.get_json()["version"]

    # return needs a reason (422), then verify
    err = error_of(sup.post(f"/tasks/{task.id}/events", json={"event": "return", "version": version, "comment": "  "}))
    assert err["status"] == 422 and err["details"]["refusal"]["code"] == "reason_required"
    events = [e["event"] for e in sup.get(f"/tasks/{task.id}").get_json()["allowed_events"]]
    assert "verify" in events and "return" in events
    ok = sup.post(f"/tasks/{task.id}/events", json={"event": "verify", "version": version, "comment": "材料齐全"})
    assert ok.status_code == 200 and ok.get_json()["to"] == "completed"

    detail = unit.get(f"/tasks/{task.id}").get_json()
    assert detail["status"] == "completed" and detail["progress"] == 80
    assert [h["event"] for h in detail["history"]] == ["accept", "progress", "evidence", "submit", "verify"]
    assert detail["history"][-1]["comment"] == "材料齐全" and detail["history"][-1]["actor"]["role"] == "supervisor"
    assert len(detail["progress_reports"]) == 1 and len(detail["evidence"]) == 1
    assert unit.get(f"/tasks/{task.id}/history").get_json()["items"] == detail["history"]


def test_ladder_events_by_supervisor(db, chuxiong, as_user):
    task = task_of("禄丰市")
    sup = as_user("duxue", "supervisor")
    err = error_of(sup.post(f"/tasks/{task.id}/events", json={"event": "escalate", "version": 1}))
    assert err["status"] == 422 and err["details"]["refusal"]["code"] == "reason_required"
    ok = sup.post(f"/tasks/{task.id}/events", json={"event": "escalate", "version": 1, "comment": "进度滞后"})
    assert ok.status_code == 200
    body = ok.get_json()
    assert body["machine"] == "ladder" and body["ladder"] == "escalated" and body["status"] == "assigned"
    unit = as_user("lufeng", "unit", "532302")
    err = error_of(unit.post(f"/tasks/{task.id}/events", json={"event": "deescalate", "version": 2, "comment": "x"}))
    assert err["status"] == 403


def test_progress_and_evidence_refusals(db, chuxiong, as_user):
    task = task_of("禄丰市")
    unit = as_user("lufeng", "unit", "532302")
    sup = as_user("duxue", "supervisor")
    # not accepted yet: 409
    assert error_of(unit.post(f"/tasks/{task.id}/progress", json={"percent": 5, "text": "x", "version": 1}))["status"] == 409
    unit.post(f"/tasks/{task.id}/events", json={"event": "accept", "version": 1})
    # not the owner: 403
    err = error_of(sup.post(f"/tasks/{task.id}/progress", json={"percent": 5, "text": "x", "version": 2}))
    assert err["status"] == 403
    # evidence typed by content: a PNG named .pdf is refused, an empty file too
    err = error_of(unit.post(f"/tasks/{task.id}/evidence", data={"file": (io.BytesIO(PNG_BYTES), "x.pdf"), "version": "2"}))
    assert err["status"] == 422 and "扩展名" in err["message"]
    err = error_of(unit.post(f"/tasks/{task.id}/evidence", data={"file": (io.BytesIO(b""), "x.pdf"), "version": "2"}))
    assert err["status"] == 422
    err = error_of(unit.post(f"/tasks/{task.id}/evidence", data={"version": "2"}, content_type="multipart/form-data"))
    assert err["status"] == 422 and "file" in err["details"]["fields"]
    err = error_of(unit.post(f"/tasks/{task.id}/evidence", json={"version": 2}))
    assert err["status"] == 415
    assert error_of(unit.post(f"/tasks/{task.id}/evidence", data={"version": "2"}))["status"] == 415
    assert count(Evidence) == 0 and count(ProgressReport) == 0


def test_evidence_download_is_an_attachment_for_those_who_may_see_it(db, chuxiong, as_user):
    task = task_of("禄丰市")
    unit = as_user("lufeng", "unit", "532302")
    unit.post(f"/tasks/{task.id}/events", json={"event": "accept", "version": 1})
    item = unit.post(f"/tasks/{task.id}/evidence",
                     data={"file": (io.BytesIO(PDF_BYTES), "<script>.pdf"), "version": "2"}).get_json()
    resp = unit.get(f"/evidence/{item['id']}/download")
    assert resp.status_code == 200 and resp.data == PDF_BYTES
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Type"] == "application/octet-stream"
    other = as_user("chuxiong", "unit", "532301")
    assert error_of(other.get(f"/evidence/{item['id']}/download"))["status"] == 404
    assert as_user("lingdao", "leadership").get(f"/evidence/{item['id']}/download").status_code == 200
    assert error_of(unit.get("/evidence/999999/download"))["status"] == 404


def test_extension_request_and_decision(db, chuxiong, as_user):
    task = task_of("禄丰市", "二十四") or task_of("禄丰市")
    from tracker.extensions import db as _db

    task.deadline = __import__("datetime").date(2026, 12, 31)
    _db.session.commit()
    unit = as_user("lufeng", "unit", "532302")
    sup = as_user("duxue", "supervisor")
    version = _version(task.id)
    err = error_of(unit.post(f"/tasks/{task.id}/extensions",
                             json={"new_deadline": "2027-01-20", "reason": "", "version": version}))
    assert err["status"] == 422 and "reason" in err["details"]["fields"]
    err = error_of(unit.post(f"/tasks/{task.id}/extensions",
                             json={"new_deadline": "2026-12-01", "reason": "资金未到位", "version": version}))
    assert err["status"] == 409  # not later than the current deadline
    resp = unit.post(f"/tasks/{task.id}/extensions",
                     json={"new_deadline": "2027-01-20", "reason": "资金未到位", "version": version})
    assert resp.status_code == 201, resp.get_json()
    req = resp.get_json()
    assert req["status"] == "pending" and req["old_deadline"] == "2026-12-31" and req["needs_leadership"] is False
    assert sup.get("/extensions?status=pending").get_json()["total"] == 1
    assert as_user("chuxiong", "unit", "532301").get("/extensions").get_json()["total"] == 0
    assert error_of(unit.post(f"/extensions/{req['id']}/decision", json={"decision": "approve"}))["status"] == 403
    assert error_of(sup.post(f"/extensions/{req['id']}/decision", json={"decision": "reject"}))["status"] == 422
    ok = sup.post(f"/extensions/{req['id']}/decision", json={"decision": "approve", "comment": "同意"})
    assert ok.status_code == 200 and ok.get_json()["status"] == "approved"
    assert unit.get(f"/tasks/{task.id}").get_json()["deadline"] == "2027-01-20"
    assert error_of(sup.post(f"/extensions/{req['id']}/decision", json={"decision": "approve"}))["status"] == 409
    assert db.session.scalar(select(ExtensionRequest.status)) == "approved"


def test_detail_reads_are_scoped_and_shaped(db, chuxiong, as_user):
    task = task_of("禄丰市")
    lead = as_user("lingdao", "leadership")
    detail = lead.get(f"/tasks/{task.id}").get_json()
    for key in ("allowed_events", "progress_reports", "evidence", "history", "extensions", "title", "start_date"):
        assert key in detail
    assert detail["unit_code"] == "532302" and detail["allowed_events"] == []
    assert count(TaskEvent) == 0
