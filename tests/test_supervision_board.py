"""The leadership board: overdue and escalated tasks by county, department and measure; instructions (批示)
with a new deadline; 已阅 until the task changes again."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from tests.helpers import task_of
from tracker.errors import Invalid
from tracker.models import Notification, Task, TaskEvent
from tracker.supervision import board
from tracker.supervision.models import Instruction, InstructionTask
from tracker.tasks import operations as ops


@pytest.fixture
def people(chuxiong, make_user):
    return {"lead": make_user("lingdao", "leadership"), "sup": make_user("duxue", "supervisor"),
            "own": make_user("lufeng", "unit", "532302"), "cx": make_user("chuxiong", "unit", "532301"),
            "jyj": make_user("jyj", "unit", "ZJYTYJ")}


def signed_in(app, username):
    client = app.test_client()
    client.post("/login", data={"username": username, "password": "Passw0rd!x"})
    return client


def test_board_groups_overdue_and_escalated_work(app, db, people):
    dept_task = task_of("州教育体育局", "一")  # due 2026-12-31: not overdue, but a supervisor escalates it
    ops.fire_ladder(dept_task, "escalate", people["sup"], comment="进度严重滞后")
    db.session.commit()
    lead = signed_in(app, "lingdao")
    county = lead.get("/supervision/board").get_data(as_text=True)
    groups = re.findall(r"<h2>(\S+) <span class=\"muted\">(\d+) 项，最长逾期 (\d+) 天", county)
    assert [g[0] for g in groups] == ["楚雄市", "禄丰市"] and all(g[2] == "327" for g in groups)
    assert "州教育体育局" not in county
    department = lead.get("/supervision/board?tab=department").get_data(as_text=True)
    assert "州教育体育局" in department and f'value="{dept_task.id}"' in department and "督办及以上 1 项" in department
    measure = lead.get("/supervision/board?tab=measure").get_data(as_text=True)
    assert "（三）" in measure and f'value="{dept_task.id}"' in measure
    assert signed_in(app, "duxue").get("/supervision/board").status_code == 200
    assert 'name="task_ids"' not in signed_in(app, "duxue").get("/supervision/board").get_data(as_text=True)


def test_instruction_with_new_deadline_moves_deadlines_and_is_on_each_task_history(app, db, people):
    a, b = task_of("禄丰市", "三"), task_of("楚雄市", "三")
    ops.fire_ladder(a, "lapse", ops.system_user())
    db.session.commit()
    lead = signed_in(app, "lingdao")
    resp = lead.post("/supervision/board/instruct", data={"task_ids": [str(a.id), str(b.id)], "text": "务必于明年3月底前完成",
                                                          "new_deadline": "2027-03-31", "tab": "county"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/supervision/board?tab=county")
    db.session.expire_all()
    instruction = db.session.scalar(select(Instruction))
    assert (instruction.text, instruction.new_deadline, instruction.author.username) == ("务必于明年3月底前完成", date(2027, 3, 31), "lingdao")
    links = {link.task_id: link.old_deadline for link in db.session.scalars(select(InstructionTask))}
    assert links == {a.id: date(2025, 12, 31), b.id: date(2025, 12, 31)}
    for task in (db.session.get(Task, a.id), db.session.get(Task, b.id)):
        assert (task.deadline, task.deadline_source) == (date(2027, 3, 31), "manual")
        event = db.session.scalar(select(TaskEvent).where(TaskEvent.task_id == task.id, TaskEvent.event == "instruction"))
        assert event.data == {"instruction_id": instruction.id, "new_deadline": "2027-03-31", "old_deadline": "2025-12-31"}
        assert event.comment == "务必于明年3月底前完成"
    assert db.session.get(Task, a.id).ladder == "normal"  # no longer overdue with the new deadline
    own = signed_in(app, "lufeng")
    history = own.get(f"/tasks/{a.id}").get_data(as_text=True)
    assert "务必于明年3月底前完成" in history and "领导批示" in history
    notices = db.session.scalars(select(Notification).where(Notification.kind == "instruction")).all()
    assert {(n.user_id, n.task_id) for n in notices} == {(people["own"].id, a.id), (people["cx"].id, b.id)}
    assert "2027-03-31" in notices[0].body
    page = signed_in(app, "lingdao").get("/supervision/instructions").get_data(as_text=True)
    assert "务必于明年3月底前完成" in page and "禄丰市" in page


def test_instruction_refusals(db, people):
    lead, task = people["lead"], task_of("禄丰市")
    for args, message in ((([task.id], ""), "请填写批示内容"), (([], "批示"), "请先勾选任务"),
                          (([task.id, 999999], "批示"), "找不到任务"),):
        with pytest.raises(Invalid, match=message):
            board.instruct(lead, *args)
    with pytest.raises(Invalid, match="不能早于今天"):
        board.instruct(lead, [task.id], "批示", date(2026, 1, 1))
    task.status = "completed"
    with pytest.raises(Invalid, match="已办结"):
        board.instruct(lead, [task.id], "批示")


def test_acknowledged_until_the_task_changes(app, db, people):
    task = task_of("禄丰市", "三")
    lead = signed_in(app, "lingdao")
    resp = lead.post("/supervision/board/review", data={"task_ids": [str(task.id)], "tab": "county"})
    assert resp.status_code == 303
    lead.post("/supervision/board/review", data={"task_ids": [str(task.id)]})  # twice: still one row
    reviewed = db.session.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id, TaskEvent.event == "reviewed")).all()
    assert len(reviewed) == 1 and db.session.get(Task, task.id).version == 1  # the task itself is untouched

    def row(page):
        return re.search(rf'value="{task.id}".*?</tr>', page, re.DOTALL).group(0)

    assert "已阅" in row(lead.get("/supervision/board").get_data(as_text=True))
    ops.fire(db.session.get(Task, task.id), "accept", people["own"])
    db.session.commit()
    assert "已阅" not in row(lead.get("/supervision/board").get_data(as_text=True))
