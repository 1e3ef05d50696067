"""Measure (二十三) end to end on the Chuxiong plan with a moved clock: overdue → escalated → flag → interview →
held → rectification tasks → one completed, one missed → accountability flag → accountability record with a PDF
→ the unit's accountability file lists every event once, in order (page and .xlsx)."""
from __future__ import annotations

import io
import re
from datetime import date, datetime

from openpyxl import load_workbook
from sqlalchemy import select

from tests.helpers import PDF_BYTES, task_of, unit_named
from tracker.clock import LOCAL_TZ
from tracker.models import CountyFlag, Notification, Task, TaskEvent
from tracker.supervision import archive, flags
from tracker.supervision import operations as sup_ops
from tracker.supervision.models import AccountabilityRecord, Interview, InterviewEvent, RectificationItem
from tracker.tasks import operations as ops


def at(clock, *args):
    clock.set(datetime(*args, tzinfo=LOCAL_TZ))


def signed_in(app, username):
    client = app.test_client()
    resp = client.post("/login", data={"username": username, "password": "Passw0rd!x"})
    assert resp.status_code == 302, username
    return client


def version_of(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)


def complete(task, unit_user, supervisor):
    ops.fire(task, "accept", unit_user)
    ops.report_progress(task, unit_user, 100, "整改完成")
    ops.add_evidence(task, unit_user, io.BytesIO(PDF_BYTES), "整改报告.pdf")
    ops.fire(task, "submit", unit_user)
    ops.fire(task, "verify", supervisor)
    sup_ops.on_task_completed(task)  # the hook the verify path calls


def test_the_supervision_loop(app, db, chuxiong, make_user, clock):
    sup_user = make_user("duxue", "supervisor")
    make_user("lingdao", "leadership")
    own = make_user("lufeng", "unit", "532302")
    own2 = make_user("lufeng2", "unit", "532302")
    make_user("chuxiong", "unit", "532301")
    lufeng = unit_named("禄丰市")
    task = task_of("禄丰市", "三")
    assert task.deadline == date(2025, 12, 31)

    # a reminder before the deadline, as the scheduler sends it: two users, two channels, one event
    at(clock, 2025, 12, 24, 9, 0)
    key = f"reminder:task={task.id}:days=7:due=2025-12-31"
    for uid, channel in ((own.id, "inapp"), (own.id, "email"), (own2.id, "inapp")):
        db.session.add(Notification(user_id=uid, channel=channel, kind="reminder", key=key, subject="【到期提醒】还有7天",
                                    task_id=task.id, status="sent", created_at=datetime(2025, 12, 24, 1, 0), data={}))
    db.session.commit()

    # overdue → escalated, moved by the system as the scheduler's sweep would
    system = ops.system_user()
    at(clock, 2026, 1, 1, 9, 0)
    ops.fire_ladder(task, "lapse", system)
    at(clock, 2026, 1, 8, 9, 0)
    ops.fire_ladder(task, "escalate", system)
    db.session.commit()
    assert task.ladder == "escalated"

    # past the interview threshold (30 days): the flag appears, computed from the data
    at(clock, 2026, 2, 1, 9, 0)
    counts = flags.refresh(date(2026, 2, 1))
    db.session.commit()
    assert counts["overdue"]["opened"] == 2  # 楚雄市 and 禄丰市 (both scheduled for 2025)
    assert flags.refresh(date(2026, 2, 1))["overdue"] == {"opened": 0, "updated": 0, "resolved": 0, "reopened": 0}
    flag = db.session.scalar(select(CountyFlag).where(CountyFlag.unit_id == lufeng.id, CountyFlag.kind == "overdue"))
    assert flag.year == 2026 and flag.detail["worst_days"] == 32 and flag.resolved_at is None

    sup = signed_in(app, "duxue")
    lead = signed_in(app, "lingdao")
    unit = signed_in(app, "lufeng")
    outsider = signed_in(app, "chuxiong")
    page = sup.get("/supervision/flags").get_data(as_text=True)
    assert "禄丰市" in page and "发起约谈" in page and f"flag={flag.id}" in page

    # a leadership instruction on the escalated task (no new deadline)
    at(clock, 2026, 2, 2, 9, 0)
    resp = lead.post("/supervision/board/instruct", data={"task_ids": [str(task.id)], "text": "限期两周内拿出整改方案"})
    assert resp.status_code == 303

    # the interview from the flag: reasons pre-filled from the overdue tasks
    at(clock, 2026, 2, 3, 9, 0)
    form = sup.get(f"/supervision/interviews/new?unit=532302&flag={flag.id}").get_data(as_text=True)
    assert "（三）" in form and "逾期34天" in form
    keys = re.findall(r'name="reasons" value="([^"]+)"', form)
    resp = sup.post("/supervision/interviews/new", data={
        "unit": "532302", "flag": str(flag.id), "scheduled_at": "2026-02-10T09:00", "place": "州教育体育局会议室",
        "attendees": "州督学", "interviewees": "禄丰市分管副市长", "reasons": keys})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    db.session.expire_all()
    interview = db.session.scalar(select(Interview))
    assert interview.status_value == "scheduled" and interview.flag_id == flag.id
    texts = [r["text"] for r in interview.reasons]
    assert any(t.startswith(f"{task.measure.label}：逾期34天") for t in texts)
    assert db.session.get(CountyFlag, flag.id).resolved_at is not None
    assert db.session.scalar(select(Notification).where(Notification.user_id == own.id, Notification.kind == "interview"))
    assert unit.get(f"/supervision/interviews/{interview.id}").status_code == 200
    assert outsider.get(f"/supervision/interviews/{interview.id}").status_code == 404

    # held: minutes and outcome; the escalated reason task moves to 约谈
    at(clock, 2026, 2, 10, 9, 0)
    page = sup.get(f"/supervision/interviews/{interview.id}").get_data(as_text=True)
    resp = sup.post(f"/supervision/interviews/{interview.id}/hold",
                    data={"minutes": "听取禄丰市汇报，指出问题", "outcome": "限期整改", "version": version_of(page)})
    assert resp.status_code == 303
    db.session.expire_all()
    assert interview.status_value == "held" and db.session.get(Task, task.id).ladder == "interview"

    # the rectification list: two items, each a task of kind 'rectification' in the unit's list
    at(clock, 2026, 2, 10, 10, 0)
    for text, deadline in (("补齐教师编制缺口", "2026-03-31"), ("完成薄弱学校改造方案", "2026-03-15")):
        resp = sup.post(f"/supervision/interviews/{interview.id}/items",
                        data={"text": text, "unit": "532302", "deadline": deadline, "measure": str(task.measure_id)})
        assert resp.status_code == 303
        clock.advance(minutes=1)
    db.session.expire_all()
    item_a, item_b = db.session.scalars(select(RectificationItem).order_by(RectificationItem.id)).all()
    task_a, task_b = item_a.task, item_b.task
    assert (task_a.kind, task_a.item_title, task_a.period, task_a.unit_id, task_a.deadline) == (
        "rectification", "补齐教师编制缺口", f"R{item_a.id}", lufeng.id, date(2026, 3, 31))
    assert task_a.display_title == "补齐教师编制缺口" and task_a.title == "补齐教师编制缺口 · 禄丰市"
    assert f'href="/tasks/{task_a.id}"' in unit.get("/").get_data(as_text=True)  # on the unit's desk
    assert "补齐教师编制缺口" in unit.get(f"/tasks/{task_a.id}").get_data(as_text=True)
    assert outsider.get(f"/tasks/{task_a.id}").status_code == 404

    # A is completed through the normal lifecycle; B misses its deadline
    at(clock, 2026, 3, 1, 9, 0)
    complete(task_a, own, sup_user)
    db.session.commit()
    assert interview.status_value == "held"  # B still open
    at(clock, 2026, 3, 16, 9, 0)
    flags.refresh(date(2026, 3, 16))
    db.session.commit()
    acc = db.session.scalar(select(CountyFlag).where(CountyFlag.kind == "accountability"))
    assert (acc.unit_id, acc.year, acc.detail["item_id"], acc.detail["task_id"]) == (lufeng.id, 2026, item_b.id, task_b.id)
    page = sup.get("/supervision/flags?kind=accountability").get_data(as_text=True)
    assert f"记录问责：整改事项 #{item_b.id}" in page and "完成薄弱学校改造方案" in page
    page = sup.get(f"/supervision/interviews/{interview.id}").get_data(as_text=True)
    assert page.count('name="doc_number"') == 1 and "逾期未完成" in page  # only B may be held to account

    # the accountability decision, with its document
    at(clock, 2026, 3, 17, 9, 0)
    resp = sup.post(f"/supervision/items/{item_b.id}/accountability", content_type="multipart/form-data", data={
        "type": "criticism", "doc_number": "楚教督〔2026〕5号", "decided_on": "2026-03-17", "note": "整改不力",
        "file": (io.BytesIO(PDF_BYTES), "问责决定.pdf")})
    assert resp.status_code == 303
    db.session.expire_all()
    record = db.session.scalar(select(AccountabilityRecord))
    assert (record.unit_id, record.item_id, record.interview_id, record.type_label) == (lufeng.id, item_b.id, interview.id, "通报批评")
    assert db.session.get(CountyFlag, acc.id).resolved_at is not None
    assert db.session.get(Task, task_b.id).ladder == "accountability"
    got = unit.get(f"/supervision/records/{record.id}/document")
    assert got.status_code == 200 and got.data == PDF_BYTES and "attachment" in got.headers["Content-Disposition"]
    assert outsider.get(f"/supervision/records/{record.id}/document").status_code == 404
    # nothing new is flagged for the recorded item
    assert flags.refresh(date(2026, 3, 17))["accountability"]["reopened"] == 0

    # B completed late: every item's task is completed, so the interview closes itself
    at(clock, 2026, 3, 20, 9, 0)
    complete(db.session.get(Task, task_b.id), own, sup_user)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Interview, interview.id).status_value == "closed"

    # the file: every event once, in time order
    events = archive.unit_file(lufeng)
    assert [(e.kind, e.title.split("：")[0].split("（")[0]) for e in events] == [
        ("reminder", "【到期提醒】还有7天"),
        ("escalation", "转为逾期"),
        ("escalation", "升级督办"),
        ("instruction", "限期两周内拿出整改方案"),
        ("interview", "发起约谈"),
        ("interview", "举行约谈"),
        ("rectification", f"整改事项 #{item_a.id}"),
        ("rectification", f"整改事项 #{item_b.id}"),
        ("accountability", "通报批评"),
        ("interview", "约谈结束"),
    ]
    assert len({e.ref for e in events}) == len(events)
    # the ladder moves made by holding the interview / recording accountability are in the audit trail
    tagged = db.session.scalars(select(TaskEvent.event).where(TaskEvent.task_id == task_b.id).order_by(TaskEvent.id)).all()
    assert "hold_accountable" in tagged
    page = unit.get("/supervision/files/532302").get_data(as_text=True)
    assert page.count("file-reminder") == 1 and "通报批评（楚教督〔2026〕5号）" in page
    assert outsider.get("/supervision/files/532302").status_code == 404
    xlsx = unit.get("/supervision/files/532302/export.xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(xlsx.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("时间", "类别", "事项", "详情", "相关任务", "经办人")
    assert [r[1] for r in rows[1:]] == [e.kind_label for e in events]
    assert ws.column_dimensions["C"].width == archive.WIDTHS[2]
    assert db.session.scalars(select(InterviewEvent.event).order_by(InterviewEvent.id)).all() == [
        "open", "hold", "add_item", "add_item", "close"]
