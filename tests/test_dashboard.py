"""Leadership dashboard, weekly report and ledgers: what the leadership group reads."""
from __future__ import annotations

import io

from openpyxl import load_workbook
from tests.helpers import task_of, unit_named
from tracker.tasks import operations as ops


def test_dashboard_matrix_counts_and_overdue(client, db, chuxiong, make_user, login):
    make_user("lingdao", "leadership")
    lufeng_task = task_of("禄丰市", "六")
    lufeng_task.ladder = "escalated"
    db.session.commit()
    login("lingdao")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "县市 × 措施 督办矩阵" in page
    matrix = page.split('class="matrix"')[1].split("</table>")[0]
    assert matrix.count("<tr>") == 1 + 10  # header + 10 counties
    assert f'href="/tasks/{lufeng_task.id}"' in matrix and "rag-escalated" in matrix
    assert f"共 {chuxiong['tasks']} 项任务" in page
    top = page.split("逾期最久的 20 项")[1]
    assert top.count("/tasks/") == 20  # 46 county tasks are overdue in the sample schedule; the 20 oldest are shown


def test_weekly_report_groups_overdue(client, db, chuxiong, make_user, login):
    make_user("duxue", "supervisor")
    login("duxue")
    page = client.get("/reports/weekly").get_data(as_text=True)
    assert "督办周报" in page and "县市逾期任务（46）" in page and "部门逾期任务（0）" in page
    summary = page.split("逾期情况汇总")[1].split("</table>")[0]
    assert "禄丰市" in summary and "楚雄市" in summary and "武定县" not in summary


def test_task_ledger_xlsx(client, db, chuxiong, make_user, login):
    make_user("duxue", "supervisor")
    task = task_of("楚雄市", "一")
    owner = make_user("cx", "unit", unit_named("楚雄市").code)
    ops.fire(task, "accept", owner)
    ops.report_progress(task, owner, 30, "完成摸底")
    db.session.commit()
    login("duxue")
    resp = client.get("/ledgers/tasks.xlsx")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(resp.data)).active
    header = [c.value for c in ws[1]]
    assert header[:4] == ["任务编号", "部分", "措施", "责任单位"]
    assert ws.max_row == 1 + chuxiong["tasks"]
    assert ws.column_dimensions["C"].width >= 30
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == task.id)
    assert (row[3], row[7], row[9]) == ("楚雄市", "办理中", 30)  # the unit's work shows in the ledger
    overdue = load_workbook(io.BytesIO(client.get("/ledgers/overdue.xlsx").data)).active
    assert overdue.max_row == 1 + 46
    days = [r[10].value for r in overdue.iter_rows(min_row=2)]
    assert days == sorted(days, reverse=True) and days[0] > 300


def test_unit_ledger_is_own_rows_and_dashboard_forbidden(client, db, chuxiong, make_user, login):
    make_user("lf", "unit", unit_named("禄丰市").code)
    login("lf")
    assert client.get("/dashboard").status_code == 403
    assert client.get("/reports/weekly").status_code == 403
    ws = load_workbook(io.BytesIO(client.get("/ledgers/tasks.xlsx").data)).active
    units = {r[3].value for r in ws.iter_rows(min_row=2)}
    assert units == {"禄丰市"} and ws.max_row == 1 + 23


def test_formula_text_is_neutralised():
    from tracker.dashboard.ledgers import safe_cell

    assert safe_cell("=1+1") == "'=1+1" and safe_cell("@SUM(A1)") == "'@SUM(A1)" and safe_cell("正常") == "正常"


def test_ics_feed_for_own_unit(app, client, db, chuxiong, make_user, login):
    user = make_user("lf", "unit", unit_named("禄丰市").code)
    login("lf")
    home = client.get("/").get_data(as_text=True)
    url = home.split('id="calendar-url">')[1].split("<")[0]
    path = url.split("tracker.test", 1)[1]
    anonymous = app.test_client()
    resp = anonymous.get(path)
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    body = resp.get_data(as_text=True)
    assert body.count("BEGIN:VEVENT") == 23 and "DTSTART;VALUE=DATE:20251231" in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
    assert "楚雄市" not in body.replace("\r\n ", "")
    assert anonymous.get(path.replace(".ics", "0.ics")).status_code == 404
    assert anonymous.get(f"/calendar/{user.id}/{'0' * 40}.ics").status_code == 404


def test_dashboard_charts_are_titled_described_and_self_contained(client, db, chuxiong, make_user, login):
    import re

    make_user("lingdao", "leadership")
    login("lingdao")
    page = client.get("/dashboard").get_data(as_text=True)
    chart = page.split('id="status-chart"', 1)[1].split("</svg>", 1)[0]
    assert 'aria-labelledby="status-chart-title" aria-describedby="status-chart-desc"' in page
    assert '<title id="status-chart-title">任务状态</title>' in chart
    desc = chart.split('<desc id="status-chart-desc">', 1)[1].split("</desc>", 1)[0]
    assert f"待签收 {chuxiong['tasks']}项" in desc  # every figure drawn is also in the description
    assert re.findall(r">(\d+项)</text>", chart)[0] == f"{chuxiong['tasks']}项"
    assert set(re.findall(r"https?://[^\"'\s<>]+", page)) <= {"http://www.w3.org/2000/svg"}


def test_ledger_headers_follow_the_readers_language(client, db, chuxiong, make_user, login):
    import re

    make_user("duxue", "supervisor")
    login("duxue")
    client.post("/language", data={"lang": "en", "next": "/"})
    resp = client.get("/ledgers/overdue.xlsx")
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert ws.title == "Overdue list"
    assert [c.value for c in ws[1]][:4] == ["Task no.", "Part", "Measure", "Responsible unit"]
    status, ladder = (c.value for c in ws[2][7:9])
    assert not re.search(r"[\u4e00-\u9fff]", f"{status}{ladder}"), (status, ladder)  # labels in English too
    page = client.get("/dashboard").get_data(as_text=True)
    assert "<title id=\"status-chart-title\">Task status</title>" in page and "Leadership dashboard" in page
