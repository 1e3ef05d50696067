"""Measure ↔ indicator links: the task gate, 可以办结 notices, one-click evaluation evidence, slippage."""
from __future__ import annotations

import pytest
import yaml

from tests.conftest import CHUXIONG
from tests.helpers import task_of, unit_named
from tests.test_indicators_evaluate import enter_all, hand_checked_rows
from tests.test_indicators_import import school, xlsx
from tracker.errors import Conflict, Forbidden
from tracker.indicators import links
from tracker.indicators import operations as ops
from tracker.indicators.catalog import load_catalog
from tracker.indicators.models import CountyFlag
from tracker.models import Evidence, Notification, Task, TaskEvent, User
from tracker.tasks import operations as task_ops
from workflows import TransitionRefused

COUNTY = "南华县"
MEASURE = "六"  # 改善基本办学条件 ↔ R4, R5, R6, R7, G3


def rows_for(county: str, year: int, *, failing: bool = False) -> list[dict]:
    """Three schools of the county; `failing` leaves one school's floor space at 60 % of the standard."""
    code = unit_named(county).code
    rows = [dict(r, county=county, code=code + r["code"][6:]) for r in hand_checked_rows(year)]
    if failing:
        rows[0]["building_area"] = 500 * 4.5 * 0.6
    return rows


def evaluate(county: str, year: int, *, failing: bool = False):
    unit = unit_named(county)
    ops.import_schools(xlsx(rows_for(county, year, failing=failing)), "a.xlsx", year)
    enter_all(unit, year)
    return ops.evaluate(unit, year)


@pytest.fixture
def people(db, chuxiong, make_user):
    return {"unit": make_user("nanhua", "unit", unit_named(COUNTY).code), "sup": make_user("duxue", "supervisor"),
            "sup2": make_user("duxue2", "supervisor"), "other": make_user("lufeng", "unit", unit_named("禄丰市").code)}


def complete(task: Task, people: dict) -> None:
    task_ops.fire(task, "accept", people["unit"])
    task_ops.report_progress(task, people["unit"], 100, "标准化学校建设完成")
    ops.attach_evaluation(task, people["unit"])
    task_ops.fire(task, "submit", people["unit"])
    task_ops.fire(task, "verify", people["sup"])


def test_every_linked_code_exists_in_the_catalog():
    catalog = load_catalog()
    plan = yaml.safe_load(CHUXIONG.read_text(encoding="utf-8"))
    linked = {m["number"]: m.get("indicators", []) for s in plan["sections"] for m in s["measures"]}
    assert linked["六"] == ["R4", "R5", "R6", "R7", "G3"] and linked["九"] == ["G8"]
    assert sum(1 for codes in linked.values() if codes) == 16
    for number, codes in linked.items():
        assert set(codes) <= set(catalog.by_code), (number, codes)


def test_gate_answers_from_the_latest_evaluation(people):
    unit = unit_named(COUNTY)
    codes = task_of(COUNTY, MEASURE).measure.indicators
    assert links.county_indicators_pass(unit.id, codes) is None  # never evaluated: not gated
    evaluate(COUNTY, 2024)
    assert links.county_indicators_pass(unit.id, codes) is True
    evaluate(COUNTY, 2025, failing=True)
    assert links.county_indicators_pass(unit.id, codes) is False
    assert links.county_indicators_pass(unit.id, ["R1", "R2"]) is True  # other indicators still pass
    assert links.county_indicators_pass(unit.id, ["G11"]) is True  # a group code means all its parts
    ops.set_entry(unit, 2025, "G11b", 15)
    assert links.county_indicators_pass(unit.id, ["G11"]) is False


def test_a_tolerated_shortfall_does_not_block_but_a_failing_school_does(people):
    result = evaluate(COUNTY, 2024).result
    # school B misses R7 (2.0 < 2.3) but passes 6 of 7 with R7 above 85 %: tolerated
    assert result["levels"]["primary"]["schools"][1]["shortfalls"][0]["code"] == "R7"
    assert links.code_verdict(result, "R7") is True
    failing = evaluate(COUNTY, 2025, failing=True).result
    detail = links.resource_code_detail(failing, "R4")
    assert detail["pass"] is False and detail["levels"]["primary"]["cv_pass"] is True
    assert [s["code"] for s in detail["levels"]["primary"]["blocking_schools"]] == [unit_named(COUNTY).code + "0001"]
    assert links.code_verdict(failing, "R5") is True


def test_ready_notice_is_sent_once_even_when_evaluated_twice(people):
    task = task_of(COUNTY, MEASURE)
    first = evaluate(COUNTY, 2024)
    assert {"measure": MEASURE, "tasks": [task.id]} in first.effects["ready"]
    ops.evaluate(unit_named(COUNTY), 2024)
    key = f"indicators_ready:unit={task.unit_id}:year=2024:measure={task.measure_id}"
    notices = Notification.query.filter(Notification.key == key).all()
    assert sorted(n.user_id for n in notices) == sorted([people["unit"].id, people["sup"].id, people["sup2"].id])
    assert all("可以办结" in n.subject for n in notices)
    assert all(n.link.endswith(f"/indicators/tasks/{task.id}") for n in notices)
    assert people["other"].id not in {n.user_id for n in notices}


def test_attach_evaluation_as_evidence_in_one_click(app, people):
    task = task_of(COUNTY, MEASURE)
    evaluate(COUNTY, 2024)
    task_ops.fire(task, "accept", people["unit"])
    _db_commit()
    client = app.test_client()
    client.post("/login", data={"username": "nanhua", "password": "Passw0rd!x"})
    page = client.get(f"/indicators/tasks/{task.id}").get_data(as_text=True)
    assert "附上评估结果作为佐证" in page and "可以办结" in page
    resp = client.post(f"/indicators/tasks/{task.id}/attach", follow_redirects=True)
    assert resp.status_code == 200 and "督导评估结果" in resp.get_data(as_text=True)
    client.post(f"/indicators/tasks/{task.id}/attach")  # a second click attaches nothing new
    items = Evidence.query.filter_by(task_id=task.id).all()
    assert len(items) == 1
    item = items[0]
    assert (item.kind, item.sha256, item.uploader_id) == ("evaluation", None, people["unit"].id)
    assert item.data["year"] == 2024 and item.data["indicators"] == {"R4": True, "R5": True, "R6": True, "R7": True, "G3": True}
    assert item.data["county"] == COUNTY and item.data["pass"] is True
    assert TaskEvent.query.filter_by(task_id=task.id, event="evidence").count() == 1
    # the other county's user cannot see the task, a supervisor cannot attach
    other = app.test_client()
    other.post("/login", data={"username": "lufeng", "password": "Passw0rd!x"})
    assert other.get(f"/indicators/tasks/{task.id}").status_code == 404
    assert other.post(f"/indicators/tasks/{task.id}/attach").status_code == 404
    with pytest.raises(Forbidden):
        ops.attach_evaluation(task, people["sup"])


def test_attach_refused_when_indicators_fail_or_task_not_open(people):
    task = task_of(COUNTY, MEASURE)
    evaluate(COUNTY, 2024)
    with pytest.raises(Conflict, match="请先签收"):
        ops.attach_evaluation(task, people["unit"])
    task_ops.fire(task, "accept", people["unit"])
    evaluate(COUNTY, 2025, failing=True)
    with pytest.raises(Conflict, match="尚未全部达标"):
        ops.attach_evaluation(task, people["unit"])
    assert Evidence.query.filter_by(task_id=task.id).count() == 0


def test_slippage_reopens_the_completed_task_once_and_flags_the_county(people):
    task = task_of(COUNTY, MEASURE)
    evaluate(COUNTY, 2024)
    complete(task, people)
    assert task.status == "completed"
    untouched = task_of(COUNTY, "九")  # G8: still passes in 2025, stays as it is
    before = untouched.status
    row = evaluate(COUNTY, 2025, failing=True)
    assert row.effects["reopened"] == [task.id] and row.effects["flag"] is not None
    ops.evaluate(unit_named(COUNTY), 2025)  # evaluating again changes nothing more
    _db_commit()
    assert task.status == "in_progress" and task.completed_at is None and untouched.status == before
    reopens = TaskEvent.query.filter_by(task_id=task.id, event="reopen").all()
    assert len(reopens) == 1
    system = User.query.filter_by(username="system").one()
    assert reopens[0].actor_id == system.id and reopens[0].from_status == "completed"
    assert reopens[0].comment.startswith("指标滑坡：") and "R4" in reopens[0].comment
    flags = CountyFlag.query.all()
    assert len(flags) == 1
    flag = flags[0]
    assert (flag.unit_id, flag.kind, flag.year, flag.resolved_at) == (task.unit_id, "slippage", 2025, None)
    assert flag.detail["overall_passed_in"] == 2024 and flag.detail["reopened_tasks"] == [task.id]
    assert [m["measure"] for m in flag.detail["measures"]] == [MEASURE]
    slip_notices = Notification.query.filter_by(kind="slippage").all()
    assert sorted(n.user_id for n in slip_notices) == sorted([people["sup"].id, people["sup2"].id])
    # the owner unit heard of the reopening through the lifecycle notice
    assert Notification.query.filter_by(kind="reopen", user_id=people["unit"].id).count() == 1


def test_gate_blocks_verify_while_indicators_fail(people):
    task = task_of(COUNTY, MEASURE)
    evaluate(COUNTY, 2024)
    task_ops.fire(task, "accept", people["unit"])
    task_ops.report_progress(task, people["unit"], 100, "完成")
    ops.attach_evaluation(task, people["unit"])
    task_ops.fire(task, "submit", people["unit"])
    evaluate(COUNTY, 2025, failing=True)
    assert task.status == "submitted"  # not completed: nothing to reopen
    with pytest.raises(TransitionRefused) as info:
        task_ops.fire(task, "verify", people["sup"])
    assert info.value.code == "indicators_failed"
    assert task.status == "submitted"
    assert TaskEvent.query.filter_by(task_id=task.id, event="verify").count() == 0
    evaluate(COUNTY, 2025)  # corrected data: the indicators pass again
    task_ops.fire(task, "verify", people["sup"])
    assert task.status == "completed"


def test_missing_data_is_not_a_slip(people):
    """A new year without county entries yet (not assessable) reopens nothing."""
    task = task_of(COUNTY, "九")  # G8
    evaluate(COUNTY, 2024)
    complete(task, people)
    unit = unit_named(COUNTY)
    ops.import_schools(xlsx(rows_for(COUNTY, 2025)), "a.xlsx", 2025)
    row = ops.evaluate(unit, 2025)
    assert row.assessable is False and row.effects["reopened"] == [] and row.effects["flag"] is None
    assert task.status == "completed"
    assert links.county_indicators_pass(unit.id, ["G8"]) is False  # but the gate does not pass a missing value


def test_older_year_recomputed_does_not_act(people):
    evaluate(COUNTY, 2024)
    evaluate(COUNTY, 2025)
    unit = unit_named(COUNTY)
    ops.import_schools(xlsx(rows_for(COUNTY, 2024, failing=True)), "a.xlsx", 2024)
    row = ops.evaluate(unit, 2024)
    assert row.passed is False and row.effects == {"latest": False, "ready": [], "reopened": [], "flag": None, "notices": 0}
    assert CountyFlag.query.count() == 0


def test_unlinked_and_department_tasks_are_not_gated(people):
    import io

    from tests.helpers import PDF_BYTES

    evaluate(COUNTY, 2025, failing=True)
    unlinked = task_of(COUNTY, "一")
    assert unlinked.measure.indicators == []
    task_ops.fire(unlinked, "accept", people["unit"])
    task_ops.report_progress(unlinked, people["unit"], 100, "完成")
    task_ops.add_evidence(unlinked, people["unit"], io.BytesIO(PDF_BYTES), "方案.pdf")
    task_ops.fire(unlinked, "submit", people["unit"])
    assert unlinked.status == "submitted"
    dept_task = Task.query.filter(Task.measure.has(number=MEASURE), Task.unit.has(kind="department")).first()
    assert ops.task_indicator_status(dept_task)["applies"] is False
    assert ops.task_indicator_status(task_of(COUNTY, MEASURE))["pass"] is False


def test_verdicts_are_per_county(people):
    evaluate(COUNTY, 2024)
    evaluate("禄丰市", 2024, failing=True)
    assert links.county_indicators_pass(unit_named(COUNTY).id, ["R4"]) is True
    assert links.county_indicators_pass(unit_named("禄丰市").id, ["R4"]) is False
    assert links.county_indicators_pass(unit_named("楚雄市").id, ["R4"]) is None


def _db_commit():
    from tracker.extensions import db

    db.session.commit()
