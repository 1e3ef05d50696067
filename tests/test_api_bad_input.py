"""Bad input to the API: malformed JSON, wrong types, 1 MB strings, Unicode edge cases, SQL and HTML
metacharacters, negative and enormous numbers, dates out of range. Each gets a 4xx in the error shape
with a message, and the data is unchanged (row counts and the task's version compared before/after).

Free-text fields (comment, progress text, reason, note) take any printable text — emoji, right-to-left
*marks*, quotes, <script>, '; DROP TABLE — and keep it verbatim (checked at the end: stored exactly,
escaped on the page). What no text field takes: NUL and other control characters, unpaired
surrogates, bidirectional overrides/isolates (text spoofing), more than the field's length.
"""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from tests.helpers import PDF_BYTES, task_of
from tests.test_api_support import API, bearer, error_of
from tracker.admin.models import AdminEvent
from tracker.extensions import db as _db
from tracker.notices.models import Notification
from tracker.tasks.models import Evidence, ExtensionRequest, ProgressReport, StoredFile, Task, TaskEvent

MB = "x" * (1024 * 1024)
SQL = ["'; DROP TABLE tasks; --", "1 OR 1=1", '" OR ""="', "%' OR '1'='1", "1; SELECT pg_sleep(5)", "\\'", "%_%"]
HTML = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}", "&lt;b&gt;", "javascript:alert(1)"]
BAD_TEXT = ["a\x00b", "\x00", "bell\x07", "esc\x1b[31m", "\u202eevil", "iso\u2066late\u2069", MB]
#: JSON text with escapes Python's encoder would not produce (an unpaired surrogate)
LONE_SURROGATES = ['"\\ud800"', '"abc\\udfff"', '"\\udc00\\ud800"']
NUMBERS_BAD = [-1, 101, 10**20, -(10**20), 1.5, 1e308, True, "50", None, [], {}]
VERSIONS_BAD = [0, -1, 2**31, 10**100, 1.0000001, "1", True, None, [1]]
DATES_BAD = ["0000-00-00", "2026-02-30", "2026-13-01", "9999-12-31", "1900-01-01", "20261231", "2026-12-31T00:00:00",
             "2026/12/31", "", " 2026-12-31", 20261231, None, "二〇二六年十二月三十一日"]


def snapshot(task_id: int) -> dict:
    _db.session.expire_all()
    counts = {m.__name__: _db.session.scalar(select(func.count()).select_from(m))
              for m in (Task, TaskEvent, ProgressReport, Evidence, StoredFile, ExtensionRequest, AdminEvent, Notification)}
    task = _db.session.get(Task, task_id)
    counts.update(version=task.version, status=task.status, ladder=task.ladder, deadline=task.deadline,
                  progress=task.progress_percent)
    return counts


@pytest.fixture
def setup(db, chuxiong, make_user, client):
    from tracker.tasks import operations as ops

    user = make_user("lufeng", "unit", "532302")
    task = task_of("禄丰市")
    ops.fire(task, "accept", user)
    db.session.commit()
    sup = make_user("duxue", "supervisor")
    return {"task": task.id, "version": task.version, "unit": bearer(user), "sup": bearer(sup), "client": client}


def _send(setup, path: str, raw: bytes | str, who: str = "unit", content_type: str = "application/json"):
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return setup["client"].post(API + path, data=data, content_type=content_type, headers=setup[who])


def _assert_refused(resp, allowed=(400, 413, 415, 422)):
    err = error_of(resp)
    assert resp.status_code in allowed, (resp.status_code, err)
    assert err["message"].strip()
    return err


def _bodies(setup) -> dict[str, dict]:
    v = setup["version"]
    return {
        "events": {"event": "submit", "comment": "ok", "version": v},
        "progress": {"percent": 10, "text": "进展", "version": v},
        "extensions": {"new_deadline": "2027-06-30", "reason": "理由", "version": v},
    }


def test_malformed_json(setup):
    before = snapshot(setup["task"])
    t = setup["task"]
    raws = ["", " ", "{", "}", "[]", "[1, 2]", '"text"', "42", "null", "true", '{"event": }', "{'event': 'x'}",
            '{"event": "accept", "version": 2,}', '{"a": NaN}', '{"version": Infinity}', '{"version": -Infinity}',
            "[" * 100000 + "]" * 100000, '{"event": "accept"' + ', "x": 1' * 10 + "}"]
    for path in (f"/tasks/{t}/events", f"/tasks/{t}/progress", f"/tasks/{t}/extensions"):
        for raw in raws:
            _assert_refused(_send(setup, path, raw))
        _assert_refused(_send(setup, path, b"\xff\xfe{\x00}"))  # not UTF-8
        _assert_refused(_send(setup, path, b'{"text": "\xc3\x28"}'))  # invalid UTF-8 sequence
        resp = _send(setup, path, json.dumps(_bodies(setup)[path.rsplit("/", 1)[1]]), content_type="text/plain")
        assert _assert_refused(resp)["code"] == "unsupported_media_type"
        resp = _send(setup, path, "event=accept&version=2", content_type="application/x-www-form-urlencoded")
        assert resp.status_code == 415
    assert snapshot(setup["task"]) == before


def test_wrong_types_and_unknown_fields(setup):
    before = snapshot(setup["task"])
    t = setup["task"]
    for kind, good in _bodies(setup).items():
        for field in good:
            for wrong in (None, 1, 1.5, True, "", [], {}, [good[field]], {"$gt": ""}):
                if type(wrong) is type(good[field]) and (wrong != "" or field == "comment"):
                    continue  # the right type: not what this test is about
                resp = _send(setup, f"/tasks/{t}/{kind}", json.dumps({**good, field: wrong}))
                err = _assert_refused(resp)
                assert field in err["details"].get("fields", {}), (kind, field, wrong, err)
            missing = {k: v for k, v in good.items() if k != field}
            if field != "comment":
                err = _assert_refused(_send(setup, f"/tasks/{t}/{kind}", json.dumps(missing)))
                assert field in err["details"]["fields"]
        err = _assert_refused(_send(setup, f"/tasks/{t}/{kind}", json.dumps({**good, "status": "completed"})))
        assert "status" in err["details"]["fields"]
    assert snapshot(setup["task"]) == before


def test_bad_text_in_every_text_field(setup):
    before = snapshot(setup["task"])
    t = setup["task"]
    cases = [("events", "comment"), ("events", "event"), ("progress", "text"), ("extensions", "reason")]
    for text in BAD_TEXT:
        for kind, field in cases:
            err = _assert_refused(_send(setup, f"/tasks/{t}/{kind}", json.dumps({**_bodies(setup)[kind], field: text})))
            assert field in err["details"]["fields"], (text[:12], kind, field)
        resp = setup["client"].post(f"{API}/tasks/{t}/evidence", headers=setup["unit"],
                                    content_type="multipart/form-data",
                                    data={"file": (io.BytesIO(PDF_BYTES), "a.pdf"), "note": text,
                                          "version": str(setup["version"])})
        _assert_refused(resp)
        resp = setup["client"].post(f"{API}/extensions/1/decision", headers=setup["sup"], content_type="application/json",
                                    data=json.dumps({"decision": "reject", "comment": text}))
        _assert_refused(resp)
    assert snapshot(setup["task"]) == before


def test_unpaired_surrogates(setup):
    before = snapshot(setup["task"])
    t = setup["task"]
    v = setup["version"]
    for literal in LONE_SURROGATES:
        for path, template in ((f"/tasks/{t}/events", '{"event": "suspend", "comment": %s, "version": %d}'),
                               (f"/tasks/{t}/progress", '{"percent": 5, "text": %s, "version": %d}'),
                               (f"/tasks/{t}/extensions", '{"new_deadline": "2027-06-30", "reason": %s, "version": %d}')):
            err = _assert_refused(_send(setup, path, template % (literal, v)))
            assert "Unicode" in err["message"], literal
    assert snapshot(setup["task"]) == before


def test_metacharacters_where_they_are_not_text(setup):
    """Identifiers, enums, dates, numbers and query filters: metacharacters are simply invalid values."""
    before = snapshot(setup["task"])
    t = setup["task"]
    client, headers = setup["client"], setup["unit"]
    for value in SQL + HTML:
        _assert_refused(_send(setup, f"/tasks/{t}/events", json.dumps({"event": value, "version": setup["version"]})))
        _assert_refused(_send(setup, f"/tasks/{t}/extensions", json.dumps(
            {"new_deadline": value, "reason": "r", "version": setup["version"]})))
        _assert_refused(_send(setup, f"/tasks/{t}/progress", json.dumps(
            {"percent": value, "text": "t", "version": setup["version"]})))
        for query in ("status", "ladder", "unit", "unit_kind", "measure", "plan_id", "page", "per_page", "overdue"):
            resp = client.get(f"{API}/tasks", query_string={query: value}, headers=headers)
            _assert_refused(resp)
        assert error_of(client.get(f"{API}/counties/{value.replace('/', '%2F')}/evaluations",
                                   headers=headers))["status"] == 404
    # a search word is text: metacharacters, % and _ included, are only searched for literally
    for value in SQL + HTML + ["\u202eabc", "😀"]:
        resp = client.get(f"{API}/tasks", query_string={"q": value}, headers=headers)
        if any(0x202A <= ord(c) <= 0x202E for c in value):
            _assert_refused(resp)
        else:
            assert resp.status_code == 200, value
            assert resp.get_json()["total"] == 0, value
    for value in ("a\x00b", "%00"):
        _assert_refused(client.get(f"{API}/tasks", query_string={"q": value.replace("%00", "\x00")}, headers=headers))
    assert snapshot(setup["task"]) == before


def test_numbers_out_of_range(setup):
    before = snapshot(setup["task"])
    t = setup["task"]
    for value in NUMBERS_BAD:
        err = _assert_refused(_send(setup, f"/tasks/{t}/progress", json.dumps(
            {"percent": value, "text": "t", "version": setup["version"]})))
        assert "percent" in err["details"]["fields"]
    for value in VERSIONS_BAD:
        for kind, body in _bodies(setup).items():
            err = _assert_refused(_send(setup, f"/tasks/{t}/{kind}", json.dumps({**body, "version": value})))
            assert "version" in err["details"]["fields"], (kind, value)
    for raw in ('{"percent": 1e999, "text": "t", "version": 2}', '{"percent": 5, "text": "t", "version": ' + "9" * 5000 + "}"):
        _assert_refused(_send(setup, f"/tasks/{t}/progress", raw))
    client, headers = setup["client"], setup["unit"]
    for query in ("page=-1", "page=0", "per_page=0", "per_page=201", "per_page=1000000000000", "page=99999999999999",
                  "measure=-5", "plan_id=1e3", "measure=0x10", "page=1.5", "page="):
        _assert_refused(client.get(f"{API}/tasks?{query}", headers=headers))
    for path in (f"/tasks/{2**31}", f"/tasks/{10**30}", "/tasks/-1", "/tasks/0", "/tasks/1e3",
                 f"/evidence/{2**63}/download", "/counties/532302/evaluations/99999", "/counties/532302/evaluations/1999"):
        assert error_of(client.get(API + path, headers=headers))["status"] == 404, path
    assert snapshot(setup["task"]) == before


def test_dates_out_of_range(setup):
    before = snapshot(setup["task"])
    t = setup["task"]
    for value in DATES_BAD:
        err = _assert_refused(_send(setup, f"/tasks/{t}/extensions", json.dumps(
            {"new_deadline": value, "reason": "资金未到位", "version": setup["version"]})))
        assert "new_deadline" in err["details"]["fields"], value
    # a valid date that is not later than the deadline: the policy refuses (409), nothing written
    err = error_of(_send(setup, f"/tasks/{t}/extensions", json.dumps(
        {"new_deadline": "2000-01-01", "reason": "资金未到位", "version": setup["version"]})))
    assert err["status"] == 409
    assert snapshot(setup["task"]) == before


def test_free_text_is_kept_verbatim_and_escaped_on_the_page(setup, client, login):
    """The other half of the contract: legitimate odd text is stored exactly and rendered harmless."""
    t = setup["task"]
    text = "进展 😀 \u200f(mark) " + " | ".join(SQL + HTML) + " — 'quotes' \"double\" \\ back\tslash\nnew line"
    resp = _send(setup, f"/tasks/{t}/progress", json.dumps({"percent": 40, "text": text, "version": setup["version"]}))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["text"] == text
    _db.session.expire_all()
    assert _db.session.scalar(select(ProgressReport.text)) == text
    assert _db.session.scalar(select(func.count()).select_from(Task)) == 300
    login("lufeng")
    page = client.get(f"/tasks/{t}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '"><img src=x onerror=alert(1)>' not in page
