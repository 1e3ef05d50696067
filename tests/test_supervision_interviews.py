"""Interview rules: reasons from overdue tasks and failing indicators, the status machine and its refusals,
rectification items as tasks, accountability only for missed items, the CLI."""
from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.helpers import PDF_BYTES, task_of, unit_named
from tracker.clock import LOCAL_TZ
from tracker.errors import Conflict, Invalid
from tracker.models import CountyEvaluation, CountyFlag, Task
from tracker.supervision import accountability
from tracker.supervision import operations as sup_ops
from tracker.supervision import reasons as reason_ops
from tracker.supervision.models import AccountabilityRecord, Interview

WHEN = datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def sup(chuxiong, make_user):
    make_user("lufeng", "unit", "532302")
    return make_user("duxue", "supervisor")


def held(sup, unit_name="禄丰市"):
    interview = sup_ops.open_interview(sup, unit_named(unit_name), scheduled_at=WHEN, place="会议室")
    sup_ops.hold_interview(interview, sup, minutes="记录", outcome="限期整改")
    return interview


def test_reasons_list_overdue_tasks_and_failing_indicators(db, sup):
    lufeng = unit_named("禄丰市")
    db.session.add(CountyEvaluation(unit_id=lufeng.id, year=2025, passed=False, assessable=True, catalog_version=0,
                                    computed_at=datetime(2026, 1, 1), result={
                                        "pass": False, "aspects": {"resource": {"pass": False}, "quality": {"pass": None, "items": {}}},
                                        "gaps": [{"kind": "cv", "level": "primary", "indicator": "R1", "value": 0.62,
                                                  "limit": 0.5, "gap": 0.12, "gap_ratio": 0.24}]}))
    db.session.commit()
    reasons = reason_ops.reasons_for(lufeng)
    tasks = [r for r in reasons if r["type"] == "task"]
    assert len(tasks) == 23 and all(r["days_overdue"] == 327 for r in tasks)
    assert tasks[0]["text"] == "（一）明确创建目标任务：逾期327天（完成时限2025-12-31，督办等级：正常）"
    indicators = [r["text"] for r in reasons if r["type"] == "indicator"]
    assert indicators[0] == "2025年督导评估未达标方面：资源配置"
    assert indicators[1].startswith("2025年 R1 ") and "差异系数" in indicators[1] and "实际0.62，标准0.5" in indicators[1]
    assert reason_ops.reasons_for(unit_named("武定县")) == []  # due 2033, never evaluated


def test_status_machine_refusals(db, sup):
    lufeng = unit_named("禄丰市")
    with pytest.raises(Invalid, match="不能早于今天"):
        sup_ops.open_interview(sup, lufeng, scheduled_at=datetime(2026, 11, 1, 9, tzinfo=LOCAL_TZ), place="会议室")
    with pytest.raises(Invalid, match="约谈地点"):
        sup_ops.open_interview(sup, lufeng, scheduled_at=WHEN, place=" ")
    with pytest.raises(Invalid, match="至少列出一条"):
        sup_ops.open_interview(sup, unit_named("武定县"), scheduled_at=WHEN, place="会议室")
    interview = sup_ops.open_interview(sup, lufeng, scheduled_at=WHEN, place="会议室")
    with pytest.raises(Conflict, match="待举行的约谈"):
        sup_ops.open_interview(sup, lufeng, scheduled_at=WHEN, place="会议室")
    with pytest.raises(Conflict, match="约谈举行后"):
        sup_ops.add_item(interview, sup, text="x", unit=lufeng, deadline=date(2027, 1, 1))
    with pytest.raises(Conflict, match="不能结束"):
        sup_ops.close_interview(interview, sup)
    sup_ops.hold_interview(interview, sup, minutes="记录", outcome="结果")
    with pytest.raises(Conflict, match="不能再记录"):
        sup_ops.hold_interview(interview, sup, minutes="记录", outcome="结果")
    with pytest.raises(Invalid, match="不能早于今天"):
        sup_ops.add_item(interview, sup, text="x", unit=lufeng, deadline=date(2026, 11, 22))
    item = sup_ops.add_item(interview, sup, text="整改", unit=lufeng, deadline=date(2027, 1, 31))
    assert item.measure_id == task_of("禄丰市", "一").measure_id  # the first overdue task's measure
    with pytest.raises(Conflict, match="不能取消"):
        sup_ops.cancel_interview(interview, sup, reason="x")
    with pytest.raises(Conflict, match="未办结"):
        sup_ops.close_interview(interview, sup)
    with pytest.raises(Conflict, match="未逾期"):
        accountability.record_accountability(item, sup, type="通报批评", doc_number="x", decided_on=date(2026, 11, 23))
    with pytest.raises(Invalid, match="问责方式"):
        accountability.record_accountability(item, sup, type="罚款", doc_number="x", decided_on=date(2026, 11, 23))


def test_item_needs_a_measure_when_no_task_is_overdue(db, sup):
    wuding = unit_named("武定县")
    interview = sup_ops.open_interview(sup, wuding, scheduled_at=WHEN, place="会议室", extra="创建工作推进缓慢")
    sup_ops.hold_interview(interview, sup, minutes="记录", outcome="结果")
    with pytest.raises(Invalid, match="关联措施"):
        sup_ops.add_item(interview, sup, text="整改", unit=wuding, deadline=date(2027, 1, 31))
    item = sup_ops.add_item(interview, sup, text="整改", unit=wuding, deadline=date(2027, 1, 31),
                            measure=task_of("武定县", "二十三").measure)
    assert item.task.plan_id == item.measure.plan_id and item.task.status == "assigned"


def test_manual_close_when_items_are_cancelled_and_cancel_of_a_scheduled_one(db, sup, make_user):
    admin = make_user("admin1", "admin")
    interview = held(sup)
    item = sup_ops.add_item(interview, sup, text="整改", unit=unit_named("禄丰市"), deadline=date(2027, 1, 31))
    from tracker.tasks import operations as ops

    ops.fire(item.task, "cancel", admin, comment="并入其他任务")
    assert sup_ops.close_finished_interviews() == []  # a cancelled item does not close it by itself
    sup_ops.close_interview(interview, sup, comment="整改任务已并入")
    assert interview.status_value == "closed"
    other = sup_ops.open_interview(sup, unit_named("楚雄市"), scheduled_at=WHEN, place="会议室")
    sup_ops.cancel_interview(other, sup, reason="改为书面督办")
    assert (other.status_value, other.cancel_reason) == ("cancelled", "改为书面督办")


def test_stale_interview_form_is_a_conflict(app, db, sup):
    interview = sup_ops.open_interview(sup, unit_named("禄丰市"), scheduled_at=WHEN, place="会议室")
    db.session.commit()
    seen = interview.version
    client = app.test_client()
    client.post("/login", data={"username": "duxue", "password": "Passw0rd!x"})
    sup_ops.cancel_interview(interview, sup, reason="改期")
    db.session.commit()
    page = client.post(f"/supervision/interviews/{interview.id}/hold",
                       data={"minutes": "m", "outcome": "o", "version": seen}, follow_redirects=True).get_data(as_text=True)
    assert "已被他人修改" in page


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_cli_loop(db, sup, cli, clock, tmp_path):
    out = cli("supervision", "flags", "--refresh", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    flag = next(f for f in data["flags"] if f["unit_code"] == "532302" and f["kind"] == "overdue")
    assert data["refreshed"]["overdue"]["opened"] == 2 and flag["reasons"][0].startswith("23项任务逾期满30天")

    out = cli("supervision", "interview", "open", "532302", "--at", "2026-12-01T10:00", "--place", "州教育体育局会议室",
              "--by", "duxue", "--flag", str(flag["id"]), "--json")
    assert out.exit_code == 0, out.output
    interview = json.loads(out.output)
    assert interview["status"] == "scheduled" and interview["scheduled_at"] == "2026-12-01T10:00:00+08:00"
    assert interview["reasons"][0].startswith("逾期未完成：") and len(interview["reasons"]) == 24

    refused = cli("supervision", "interview", "hold", str(interview["id"]), "--minutes", "m", "--outcome", "o", "--by", "lufeng")
    assert refused.exit_code == 1 and "只有督学可以" in refused.output
    out = cli("supervision", "interview", "hold", str(interview["id"]), "--minutes", "听取汇报", "--outcome", "限期整改",
              "--by", "duxue", "--json")
    assert json.loads(out.output)["status"] == "held"

    out = cli("supervision", "rectify", str(interview["id"]), "--item", "补齐教师编制", "--unit", "532302",
              "--deadline", "2026-12-15", "--measure", "三", "--by", "duxue", "--json")
    assert out.exit_code == 0, out.output
    item = json.loads(out.output)
    task = db.session.get(Task, item["task_id"])
    assert (task.kind, task.item_title, task.measure.number) == ("rectification", "补齐教师编制", "三")
    assert cli("supervision", "rectify", str(interview["id"]), "--item", "x", "--unit", "NOPE", "--deadline", "2026-12-15",
               "--by", "duxue").exit_code == 1

    clock.advance(days=30)
    out = cli("supervision", "flags", "--refresh", "--kind", "accountability", "--json")
    assert [f["detail"]["item_id"] for f in json.loads(out.output)["flags"]] == [item["id"]]
    pdf = tmp_path / "问责决定.pdf"
    pdf.write_bytes(PDF_BYTES)
    out = cli("supervision", "accountability", str(item["id"]), "--type", "诫勉谈话", "--doc", "楚教督〔2026〕9号",
              "--date", "2026-12-20", "--file", str(pdf), "--by", "duxue", "--json")
    assert out.exit_code == 0, out.output
    record = json.loads(out.output)
    assert (record["type"], record["filename"]) == ("admonition", "问责决定.pdf")
    assert db.session.get(AccountabilityRecord, record["id"]).sha256 is not None
    assert db.session.scalar(select(CountyFlag).where(CountyFlag.kind == "accountability")).resolved_at is not None

    xlsx = tmp_path / "file.xlsx"
    out = cli("supervision", "archive", "532302", "--json", "--xlsx", str(xlsx))
    events = json.loads(out.output)["events"]
    assert [e["kind"] for e in events] == ["interview", "interview", "rectification", "accountability"]
    assert xlsx.stat().st_size > 0
    assert cli("supervision", "archive", "NOPE").exit_code == 1
    assert db.session.scalar(select(Interview)).status_value == "held"


def test_cli_cancel_and_close(db, sup, cli):
    out = cli("supervision", "interview", "open", "532302", "--at", "2026-12-01T10:00", "--place", "会议室",
              "--by", "duxue", "--json")
    interview = json.loads(out.output)
    out = cli("supervision", "interview", "cancel", str(interview["id"]), "--reason", "改期另行通知", "--by", "duxue", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["status"] == "cancelled"
    closed = cli("supervision", "interview", "close", str(interview["id"]), "--by", "duxue")
    assert closed.exit_code == 1 and db.session.get(Interview, interview["id"]).status_value == "cancelled"
    out = cli("supervision", "interview", "show", str(interview["id"]))
    assert out.output.startswith(f"约谈 #{interview['id']} 禄丰市 已取消")
