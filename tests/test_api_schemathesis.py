"""Property-based run of the whole API against its own OpenAPI document (schemathesis, in-process WSGI).

Every operation gets up to MAX_EXAMPLES generated requests as an administrator, aimed at the real ids
of a seeded database (path parameters fixed, everything else generated), and every answer must be no server
error (5xx), have a documented status code and content type, and match its response schema. A second,
smaller pass sends schema-violating requests (negative mode): they must get a documented 4xx.
Bounded to stay well under a minute.
"""
from __future__ import annotations

import io
import time
from datetime import date

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from tests.helpers import PDF_BYTES, task_of, unit_named
from tests.test_api_support import API, school_row, school_xlsx, token_for
from tracker.clock import utcnow

schemathesis = pytest.importorskip("schemathesis")

MAX_EXAMPLES = 20
NEGATIVE_EXAMPLES = 8
#: the run takes ~15 s on SQLite and ~30 s on PostgreSQL on an idle machine; the guard only catches
#: a pathological slowdown (a loaded CI machine must not make it flaky)
TIME_BUDGET = 120.0


def _seed(app, db, make_user) -> dict:
    """A little of everything, so generated requests reach real rows: returns path-parameter examples."""
    from tracker.indicators import operations as ind_ops
    from tracker.indicators.models import CountyFlag
    from tracker.notices.models import Notification
    from tracker.tasks import operations as ops

    admin = make_user("admin1", "admin")
    unit_user = make_user("lufeng", "unit", "532302")
    task = task_of("禄丰市")
    ops.fire(task, "accept", unit_user)
    ops.report_progress(task, unit_user, 50, "进展")
    item = ops.add_evidence(task, unit_user, io.BytesIO(PDF_BYTES), "方案.pdf")
    other = task_of("禄丰市", "四")
    other.deadline = date(2026, 12, 31)
    req = ops.request_extension(other, unit_user, date(2027, 3, 31), "资金未到位")
    ind_ops.import_schools(school_xlsx([school_row("5323010001"), school_row("5323010002", primary=300)]),
                           "s.xlsx", 2025, None, evaluate_after=True)
    flag = CountyFlag(unit_id=unit_named("楚雄市").id, kind="slippage", year=2025, detail={}, created_at=utcnow())
    note = Notification(user_id=admin.id, channel="inapp", kind="reminder", key="k1", subject="提醒", body="",
                        link="", status="sent", created_at=utcnow(), data={})
    db.session.add_all([flag, note])
    db.session.commit()
    return {"admin": admin, "examples": {
        "task_id": task.id, "evidence_id": item.id, "request_id": req.id, "flag_id": flag.id,
        "notification_id": note.id, "plan_id": task.plan_id, "measure_id": task.measure_id, "code": "532301",
        "year": 2025}}


def _wsgi(app):
    """Each request in its own app context, as in production (the test holds one of its own)."""
    def application(environ, start_response):
        with app.app_context():
            return list(app(environ, start_response))

    return application


def _fuzz(operation, mode, examples: int, checks: list, fixed: dict | None, headers: dict, statuses: dict) -> None:
    """Run one operation in one generation mode; record the status codes of valid requests."""
    from schemathesis import GenerationMode

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    def run(case):
        response = case.call_and_validate(headers=headers, checks=checks)
        if mode is GenerationMode.POSITIVE:
            statuses.setdefault(operation.label, []).append(response.status_code)
        else:
            assert response.status_code < 500

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters, no body


def test_schemathesis_finds_no_server_error_and_no_schema_violation(app, db, client, chuxiong, make_user):
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

    seeded = _seed(app, db, make_user)
    headers = {"Authorization": f"Bearer {token_for(seeded['admin'])}"}
    raw = client.get(f"{API}/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = _wsgi(app)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    #: invalid requests (wrong types, missing fields, out-of-range values): a documented 4xx in the error shape
    negative_checks = [not_a_server_error, status_code_conformance, response_schema_conformance]

    started, statuses = time.monotonic(), {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, examples, mode_checks in ((GenerationMode.POSITIVE, MAX_EXAMPLES, checks),
                                            (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, negative_checks)):
            # valid requests go to the seeded rows (real ids); invalid ones anywhere
            fixed = {p.name: seeded["examples"][p.name] for p in operation.path_parameters} \
                if mode is GenerationMode.POSITIVE else None
            _fuzz(operation, mode, examples, mode_checks, fixed, headers, statuses)
    elapsed = time.monotonic() - started
    assert elapsed < TIME_BUDGET, f"schemathesis run took {elapsed:.1f}s"
    # the seeded ids were reached: some operations answered with success, not only 4xx
    ok = {label for label, codes in statuses.items() if any(200 <= c < 300 for c in codes)}
    assert len(ok) >= 15, sorted(statuses.items())
    calls = sum(len(v) for v in statuses.values())
    print(f"schemathesis: {calls} valid requests over {len(statuses)} operations in {elapsed:.1f}s")
