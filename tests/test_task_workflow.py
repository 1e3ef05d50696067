"""The task lifecycle through the services and the web pages: every step, every refusal, the audit trail."""
from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.helpers import PDF_BYTES, PNG_BYTES, docx_bytes, task_of, unit_named
from tracker.errors import Conflict, Forbidden, Invalid
from tracker.models import Evidence, ExtensionRequest, Notification, StoredFile, Task, TaskEvent
from tracker.tasks import operations as ops
from workflows import TransitionRefused


@pytest.fixture
def people(chuxiong, make_user):
    lufeng = unit_named("禄丰市")
    return {
        "unit": make_user("lufeng", "unit", lufeng.code),
        "other": make_user("chuxiong", "unit", unit_named("楚雄市").code),
        "sup": make_user("duxue", "supervisor"),
        "lead": make_user("lingdao", "leadership"),
        "admin": make_user("admin", "admin"),
    }


def audit_count(db, task) -> int:
    return db.session.scalar(select(func.count()).select_from(TaskEvent).where(TaskEvent.task_id == task.id))


def test_full_journey_through_services(db, people):
    task = task_of("禄丰市")
    unit, sup = people["unit"], people["sup"]
    assert ops.fire(task, "accept", unit)["to"] == "in_progress"
    with pytest.raises(TransitionRefused) as refused:
        ops.fire(task, "submit", unit)
    assert "进展报告" in str(refused.value)
    ops.report_progress(task, unit, 60, "已完成摸底调查")
    ops.add_evidence(task, unit, io.BytesIO(PDF_BYTES), "台账.pdf")
    assert ops.fire(task, "submit", unit)["to"] == "submitted"
    with pytest.raises(TransitionRefused):
        ops.fire(task, "return", sup)  # a reason is required
    ops.fire(task, "return", sup, comment="台账缺少学校名单")
    ops.fire(task, "resume", unit)
    ops.fire(task, "submit", unit)
    result = ops.fire(task, "verify", sup)
    db.session.commit()
    assert (result["to"], task.status, task.ladder) == ("completed", "completed", "normal")
    events = [e.event for e in db.session.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id).order_by(TaskEvent.id))]
    assert events == ["accept", "progress", "evidence", "submit", "return", "resume", "submit", "verify"]
    # the unit heard about the return and the verification, the supervisor about each submission
    kinds = {(n.user_id, n.kind) for n in db.session.scalars(select(Notification))}
    assert {(unit.id, "return"), (unit.id, "verify"), (sup.id, "submit")} <= kinds


@pytest.mark.parametrize("role_key, event", [
    ("sup", "accept"), ("other", "accept"), ("lead", "accept"), ("admin", "verify"), ("unit", "verify"),
])
def test_refused_events_change_nothing(db, people, role_key, event):
    task = task_of("禄丰市")
    if event == "verify":
        task.status = "submitted"
        db.session.commit()
    before = (task.status, task.version, audit_count(db, task))
    with pytest.raises(TransitionRefused) as err:
        ops.fire(task, event, people[role_key])
    db.session.rollback()
    db.session.refresh(task)
    assert (task.status, task.version, audit_count(db, task)) == before
    assert err.value.message  # a sentence for the user


def test_stale_version_is_a_conflict(db, people):
    task = task_of("禄丰市")
    seen = task.version
    ops.fire(task, "accept", people["unit"])
    db.session.commit()
    with pytest.raises(Conflict) as err:
        ops.report_progress(task, people["unit"], 10, "开始", expected_version=seen)
    assert "已被他人修改" in str(err.value)


def test_progress_rules(db, people):
    task = task_of("禄丰市")
    with pytest.raises(Conflict, match="请先签收"):
        ops.report_progress(task, people["unit"], 10, "x")
    ops.fire(task, "accept", people["unit"])
    with pytest.raises(Forbidden):
        ops.report_progress(task, people["other"], 10, "x")
    for bad in (-1, 101, "abc"):
        with pytest.raises(Invalid):
            ops.report_progress(task, people["unit"], bad, "x")
    with pytest.raises(Invalid):
        ops.report_progress(task, people["unit"], 10, "   ")


def test_evidence_rules(app, db, people):
    task = task_of("禄丰市")
    unit = people["unit"]
    ops.fire(task, "accept", unit)
    with pytest.raises(Invalid, match="不是允许的类型"):
        ops.add_evidence(task, unit, io.BytesIO(b"MZ\x90\x00 this is an exe"), "报告.pdf")
    with pytest.raises(Invalid, match="与扩展名"):
        ops.add_evidence(task, unit, io.BytesIO(PNG_BYTES), "报告.pdf")
    app.config["EVIDENCE_MAX_BYTES"] = 1024
    try:
        with pytest.raises(Invalid, match="超过大小上限"):
            ops.add_evidence(task, unit, io.BytesIO(PDF_BYTES + b"0" * 2000), "大文件.pdf")
    finally:
        app.config["EVIDENCE_MAX_BYTES"] = 50 * 1024 * 1024
    item = ops.add_evidence(task, unit, io.BytesIO(PDF_BYTES), "../../etc/passwd.pdf")
    assert item.filename == "passwd.pdf"
    again = ops.add_evidence(task, unit, io.BytesIO(PDF_BYTES), "copy.pdf")
    assert again.id == item.id
    ops.add_evidence(task, unit, io.BytesIO(docx_bytes()), "方案.docx")
    other_task = task_of("禄丰市", "四")
    ops.fire(other_task, "accept", unit)
    ops.add_evidence(other_task, unit, io.BytesIO(PDF_BYTES), "台账.pdf")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(StoredFile)) == 2  # pdf stored once, docx once
    assert db.session.scalar(select(func.count()).select_from(Evidence)) == 3


def test_extension_requests(db, people, clock):
    task = task_of("禄丰市")  # county deadline 2025-12-31 in the sample schedule: already passed
    with pytest.raises(Conflict, match="已逾期"):
        ops.request_extension(task, people["unit"], date(2027, 6, 30), "资金未到位")
    dept_task = task_of("州教育体育局")
    dept_user = db.session.scalar(select(Task.unit_id).where(Task.id == dept_task.id))
    from tracker.auth.operations import create_user

    clerk = create_user("jiaoyu", "Passw0rd!x", "unit", unit_code=dept_task.unit.code)
    assert clerk.unit_id == dept_user
    short = ops.request_extension(dept_task, clerk, dept_task.deadline + timedelta(days=30), "等待财政拨款")
    assert not short.needs_leadership
    with pytest.raises(Conflict, match="待审批"):
        ops.request_extension(dept_task, clerk, dept_task.deadline + timedelta(days=40), "再延")
    with pytest.raises(Invalid):
        ops.decide_extension(short, people["sup"], approve=False)
    ops.decide_extension(short, people["sup"], approve=False, comment="理由不充分")
    long = ops.request_extension(dept_task, clerk, dept_task.deadline + timedelta(days=200), "项目推迟")
    assert long.needs_leadership
    with pytest.raises(Forbidden, match="领导小组"):
        ops.decide_extension(long, people["sup"], approve=True)
    old = dept_task.deadline
    ops.decide_extension(long, people["lead"], approve=True, comment="同意")
    db.session.commit()
    assert dept_task.deadline == old + timedelta(days=200) and dept_task.deadline_source == "manual"
    history = db.session.scalars(select(TaskEvent).where(TaskEvent.task_id == dept_task.id).order_by(TaskEvent.id)).all()
    assert [e.event for e in history] == ["extension_request", "extension_rejected", "extension_request", "extension_approved"]
    assert history[-1].data["old_deadline"] == old.isoformat()
    assert db.session.scalar(select(func.count()).select_from(ExtensionRequest)) == 2


def test_manual_escalation_by_supervisor(db, people):
    task = task_of("禄丰市")
    with pytest.raises(TransitionRefused):
        ops.fire_ladder(task, "escalate", people["sup"])  # reason required
    ops.fire_ladder(task, "escalate", people["sup"], comment="多次催办无进展")
    with pytest.raises(TransitionRefused):
        ops.fire_ladder(task, "deescalate", people["unit"], comment="已整改")
    ops.fire_ladder(task, "deescalate", people["sup"], comment="已整改")
    db.session.commit()
    assert task.ladder == "overdue"


def test_cli_fire_and_history(app, db, people):
    task = task_of("禄丰市")
    runner = app.test_cli_runner()
    out = runner.invoke(args=["task", "fire", str(task.id), "accept", "--as", "lufeng", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["to"] == "in_progress"
    refused = runner.invoke(args=["task", "fire", str(task.id), "verify", "--as", "lufeng"])
    assert refused.exit_code == 1 and "办理中" in refused.output
    history = json.loads(runner.invoke(args=["task", "history", str(task.id), "--json"]).output)
    assert [(h["event"], h["from"], h["to"], h["actor"]) for h in history] == [("accept", "assigned", "in_progress", "lufeng")]
