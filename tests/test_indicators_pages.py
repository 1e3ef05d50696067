"""Indicator pages: who sees which county, what the evaluation and trend pages show, entries, catalog, demo."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.helpers import PDF_BYTES, unit_named
from tests.test_indicators_evaluate import enter_all, hand_checked_rows
from tests.test_indicators_import import xlsx
from tracker.indicators import operations as ops
from tracker.indicators import store
from tracker.indicators.models import CountyEntry, CountyFlag, SchoolDataImport
from tracker.models import Task, TaskEvent


def client_for(app, username: str):
    client = app.test_client()
    resp = client.post("/login", data={"username": username, "password": "Passw0rd!x"})
    assert resp.status_code in (302, 303), resp.status_code
    return client


@pytest.fixture
def evaluated(db, chuxiong, make_user):
    """楚雄市 2025 evaluated (passing); users of two counties, a supervisor, an admin and a department user."""
    unit = unit_named("楚雄市")
    ops.import_schools(xlsx(hand_checked_rows()), "a.xlsx", 2025)
    enter_all(unit, 2025)
    ops.evaluate(unit, 2025)
    db.session.commit()
    make_user("chuxiong", "unit", "532301")
    make_user("lufeng", "unit", "532302")
    make_user("duxue", "supervisor")
    make_user("admin1", "admin")
    make_user("caizheng", "unit", "ZCZJ")
    return unit


def test_county_user_sees_only_its_own_county(app, evaluated):
    own = client_for(app, "chuxiong")
    assert own.get("/indicators/counties/532301/2025").status_code == 200
    assert own.get("/indicators/counties/532301/trend").status_code == 200
    assert own.get("/indicators/counties/532301/2025/entries").status_code == 200
    assert own.get("/indicators/").headers["Location"].endswith("/indicators/counties/532301")
    other = client_for(app, "lufeng")
    for url in ("/indicators/counties/532301/2025", "/indicators/counties/532301/trend",
                "/indicators/counties/532301/2025/entries", "/indicators/counties/532301"):
        assert other.get(url).status_code == 404, url
    assert other.post("/indicators/counties/532301/2025/evaluate").status_code == 404
    assert other.post("/indicators/counties/532301/2025/entries", data={"code": "G8", "value": "50"}).status_code == 404
    assert other.get("/indicators/flags").status_code == 403
    dept = client_for(app, "caizheng")
    assert dept.get("/indicators/").status_code == 404
    assert dept.get("/indicators/counties/532301/2025").status_code == 404
    sup = client_for(app, "duxue")
    for code in ("532301", "532302", "532329"):
        assert sup.get(f"/indicators/counties/{code}/2025").status_code == 200
    assert sup.get("/indicators/counties/999999/2025").status_code == 404
    assert app.test_client().get("/indicators/counties/532301/2025").status_code in (302, 401)


def test_evaluation_page_shows_levels_cv_items_and_gaps(app, evaluated):
    # make something fail so the gap list has entries: G8 96 with evidence
    ops.set_entry(evaluated, 2025, "G8", 96, "2025年工资对比", files=[(io.BytesIO(PDF_BYTES), "工资对比.pdf")])
    ops.set_entry(evaluated, 2025, "G13", "小学=98,初中=96")
    from tracker.extensions import db

    db.session.commit()
    page = client_for(app, "duxue").get("/indicators/counties/532301/2025").get_data(as_text=True)
    for words in ("资源配置 · 小学", "资源配置 · 初中", "小学校际差异系数", "初中校际差异系数", "鹿城小学", "东瓜小学",
                  "楚雄一中", "6/7", "政府保障程度", "一票否决", "差距清单", "工资对比.pdf", "2025年工资对比", "待核实"):
        assert words in page, words
    assert "<th" in page and "未达标" in page
    gaps = page.split('id="gaps"')[1].split("</section>")[0]
    order = [m for m in re.findall(r"<td>(G8|G13|R7) ", gaps)]
    assert order == ["R7", "G8", "G13"], order  # 13.0 % (R7 of 东瓜小学), 4.0 % (G8), 2.0 % (G13 primary)
    rows = store.gap_list(store.get_evaluation(evaluated.id, 2025).result, store.current_catalog())
    assert [round(g["ratio"], 3) for g in rows] == [0.13, 0.04, 0.02]
    assert "0.086" in page  # the primary CV of R2 and R7


def test_trend_page_makes_slippage_visible(app, evaluated):
    from tracker.extensions import db

    ops.import_schools(xlsx(hand_checked_rows(2024)), "a.xlsx", 2024)
    enter_all(evaluated, 2024)
    ops.evaluate(evaluated, 2024)
    rows = hand_checked_rows(2025)
    rows[0]["sports_area"] = 500 * 7.5 * 0.5
    ops.import_schools(xlsx(rows), "b.xlsx", 2025)
    ops.evaluate(evaluated, 2025)
    db.session.commit()
    page = client_for(app, "chuxiong").get("/indicators/counties/532301/trend").get_data(as_text=True)
    cv_tables, flags = page.split("<h2>滑坡标记</h2>")
    assert cv_tables.count("<tr><td>2024</td>") == 2 and cv_tables.count("<tr><td>2025</td>") == 2  # 小学, 初中
    assert '<span class="badge rag-red">滑坡</span>' in cv_tables
    assert "<tr><td>2025</td><td>滑坡</td>" in flags and "待处理" in flags
    assert db.session.scalar(select(func.count()).select_from(CountyFlag)) == 1


def test_entries_page_saves_values_and_files(app, evaluated):
    client = client_for(app, "chuxiong")
    page = client.get("/indicators/counties/532301/2025/entries").get_data(as_text=True)
    assert 'name="value_primary"' in page and "是否发生" in page
    resp = client.post("/indicators/counties/532301/2025/entries", content_type="multipart/form-data", follow_redirects=True,
                       data={"code": "G15", "value": "88.5", "note": "教育局统计",
                             "files": [(io.BytesIO(PDF_BYTES), "随迁子女.pdf")]})
    assert resp.status_code == 200 and "已保存 G15" in resp.get_data(as_text=True)
    resp = client.post("/indicators/counties/532301/2025/entries", data={"code": "G15", "value": "188"}, follow_redirects=True)
    assert "超出范围" in resp.get_data(as_text=True)
    entry = CountyEntry.query.filter_by(code="G15").one()
    assert (entry.value, entry.note, [f.filename for f in entry.files]) == (88.5, "教育局统计", ["随迁子女.pdf"])
    file_id = entry.files[0].id
    assert client.get(f"/indicators/entry-files/{file_id}").data == PDF_BYTES
    assert client_for(app, "lufeng").get(f"/indicators/entry-files/{file_id}").status_code == 404
    resp = client.post("/indicators/counties/532301/2025/entries",
                       data={"code": "G13", "value_primary": "100", "value_junior": "97"})
    assert resp.status_code == 302
    assert CountyEntry.query.filter_by(code="G13").one().value == {"primary": 100, "junior": 97}


def test_evaluate_button(app, evaluated):
    assert client_for(app, "lufeng").post("/indicators/counties/532301/2025/evaluate").status_code == 404
    resp = client_for(app, "chuxiong").post("/indicators/counties/532301/2025/evaluate", follow_redirects=True)
    assert "已重新评估：达标" in resp.get_data(as_text=True)
    resp = client_for(app, "duxue").post("/indicators/counties/532302/2025/evaluate", follow_redirects=True)
    assert "尚无学校数据" in resp.get_data(as_text=True)


def test_catalog_page_flags_uncertain_values_and_admin_edits(app, evaluated):
    sup = client_for(app, "duxue")
    page = sup.get("/indicators/catalog").get_data(as_text=True)
    g7 = page.split('id="G7"')[1].split("</tr>")[0]
    assert "待核实" in g7 and "6,000" in g7
    assert "<form" not in page.split('id="rules"')[1].split("</section>")[0]  # not editable by supervisors
    assert sup.post("/indicators/catalog/G7", data={"threshold": "5000"}).status_code == 403
    admin = client_for(app, "admin1")
    resp = admin.post("/indicators/catalog/R1", data={"thresholds.primary": "4.5", "thresholds.junior": "5.3",
                                                     "cv_limit.primary": "0.5", "cv_limit.junior": "0.45",
                                                     "uncertain_present": "1", "note": "州里调整"}, follow_redirects=True)
    assert "已保存 R1" in resp.get_data(as_text=True)
    assert store.current_catalog().by_code["R1"].thresholds["primary"] == 4.5
    resp = admin.post("/indicators/catalog/R1", data={"cv_limit.primary": "-1"}, follow_redirects=True)
    assert "修改未保存" in resp.get_data(as_text=True)
    resp = admin.post("/indicators/catalog/G7", data={"threshold": "很多"}, follow_redirects=True)
    assert "应为数字" in resp.get_data(as_text=True)
    resp = admin.post("/indicators/catalog/rules", data={"min_met": "6", "floor_ratio": "0.8"}, follow_redirects=True)
    assert "已保存资源配置规则" in resp.get_data(as_text=True)
    catalog = store.current_catalog()
    assert catalog.by_code["R1"].cv_limit["primary"] == 0.5 and catalog.by_code["G7"].threshold == 6000
    assert catalog.rules.floor_ratio == 0.8


def test_overview_and_flags_pages(app, evaluated):
    page = client_for(app, "duxue").get("/indicators/").get_data(as_text=True)
    assert page.count("尚未评估") == 9 and "楚雄市" in page and "督导评估</a>" in page
    assert "没有标记" in client_for(app, "duxue").get("/indicators/flags").get_data(as_text=True)


def test_demo_schools(app, db, chuxiong, make_user, tmp_path):
    make_user("u532324", "unit", "532324")
    make_user("duxue", "supervisor")
    app.instance_path, old = str(tmp_path), app.instance_path
    try:
        result = app.test_cli_runner().invoke(args=["demo", "schools", "--json"])
    finally:
        app.instance_path = old
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    verdicts = {c["county"]: c["pass"] for c in out["counties"]}
    assert verdicts["楚雄市"] == verdicts["禄丰市"] == {"2024": True, "2025": True}
    assert verdicts["南华县"] == {"2024": True, "2025": False}
    assert verdicts["牟定县"] == {"2024": False, "2025": True}
    assert [c["county"] for c in out["counties"] if c["slipped"]] == ["南华县"]
    assert sum(1 for v in verdicts.values() if not v["2025"]) == 7
    assert Path(out["files"]["2024"]).name == "schools-2024.xlsx" and Path(out["files"]["2025"]).exists()
    assert all(i.sample for i in SchoolDataImport.query.all())
    # every county has 8–15 schools, one 九年一贯制 and one 教学点 (left out: fewer than 50 pupils)
    from tracker.indicators.models import SchoolYear

    for unit_id, n in db.session.execute(select(SchoolYear.unit_id, func.count()).where(SchoolYear.year == 2025)
                                         .group_by(SchoolYear.unit_id)):
        assert 8 <= n <= 15
    types = db.session.execute(select(SchoolYear.unit_id, SchoolYear.school_type).where(SchoolYear.year == 2025)).all()
    for unit_id in {u for u, _ in types}:
        kinds = [t for u, t in types if u == unit_id]
        assert kinds.count("九年一贯制") == 1 and kinds.count("教学点") == 1
    # 南华县's (六) task was completed on the 2024 result and reopened by the 2025 slip; the county is flagged
    task = db.session.get(Task, out["completed_task"])
    assert task.status == "in_progress"
    assert TaskEvent.query.filter_by(task_id=task.id, event="reopen").count() == 1
    assert [(f.unit_id, f.year) for f in CountyFlag.query.all()] == [(unit_named("南华县").id, 2025)]
    page = client_for(app, "duxue").get("/indicators/counties/532324/2025").get_data(as_text=True)
    assert "示例数据" in page and "滑坡" in page
    # running it again changes nothing (same files, same verdicts, no second reopen or flag)
    app.instance_path = str(tmp_path)
    try:
        again = app.test_cli_runner().invoke(args=["demo", "schools", "--json"])
    finally:
        app.instance_path = old
    assert json.loads(again.output)["counties"] == out["counties"]
    assert TaskEvent.query.filter_by(event="reopen").count() == 1 and CountyFlag.query.count() == 1


# ── charts: each R indicator's CV against its limit (the year), and across the years ──────────
R_CODES = [f"R{i}" for i in range(1, 8)]


def _svg(page: str, uid: str) -> str:
    """The inline <svg id=uid> … </svg> of a page."""
    return page.split(f'id="{uid}"', 1)[1].split("</svg>", 1)[0]


def _uneven_sports_area(year: int) -> list[dict]:
    """The hand-checked schools, except that 东瓜小学 has ten times the sports area per pupil (80 ㎡ vs 8 ㎡):
    the primary CV of R5 becomes √(.625·27² + .375·45²) / 35 = 0.9959, over the 0.50 limit; every school still passes."""
    rows = hand_checked_rows(year)
    rows[1]["sports_area"] = 300 * 80
    return rows


def _external_urls(page: str) -> set[str]:
    return set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\"'\s<>]*", page)) - {"http://www.w3.org/2000/svg"}


def test_county_page_charts_each_cv_against_its_limit(app, evaluated):
    from tracker.extensions import db

    ops.import_schools(xlsx(_uneven_sports_area(2025)), "b.xlsx", 2025)
    ops.evaluate(evaluated, 2025)
    db.session.commit()
    page = client_for(app, "duxue").get("/indicators/counties/532301/2025").get_data(as_text=True)

    primary = _svg(page, "cv-primary")
    bars = re.findall(r'<g class="bar (over|within)" data-code="(R\d)">', primary)
    assert [code for _, code in bars] == R_CODES  # one bar per indicator, in catalogue order
    assert [code for kind, code in bars if kind == "over"] == ["R5"]
    assert primary.count('class="limit"') == 7  # each bar has its limit marked
    r5 = primary.split('data-code="R5">', 1)[1].split("</g>", 1)[0]
    assert "✗ 0.996 超过限值 0.5" in r5 and 'fill="url(#cv-primary-hatch)"' in r5  # labelled in words, hatched
    r7 = primary.split('data-code="R7">', 1)[1].split("</g>", 1)[0]
    assert "0.086（限值 0.5）" in r7 and "hatch" not in r7 and "✗" not in r7
    assert '<title id="cv-primary-title">楚雄市 2025年小学各项指标校际差异系数与限值</title>' in primary
    desc = primary.split('<desc id="cv-primary-desc">', 1)[1].split("</desc>", 1)[0]
    assert "R5：0.996，超过限值 0.5。" in desc and "超过限值的指标：R5。" in desc
    assert 'aria-labelledby="cv-primary-title" aria-describedby="cv-primary-desc"' in page

    junior = _svg(page, "cv-junior")  # the junior level is drawn separately, against its own limit (0.45)
    assert re.findall(r'<g class="bar (over|within)" data-code="(R\d)">', junior) == [("within", c) for c in R_CODES]
    assert "0（限值 0.45）" in junior and "全部指标均未超过限值。" in junior

    # the table stays as the text alternative, and nothing is loaded from elsewhere
    assert "初中校际差异系数" in page and "<td>0.996</td>" in page
    assert _external_urls(page) == set(), _external_urls(page)
    assert "<script" not in page


def test_county_page_without_an_evaluation_has_no_chart(app, evaluated):
    page = client_for(app, "duxue").get("/indicators/counties/532301/2024").get_data(as_text=True)
    assert "尚未评估" in page and "<svg" not in page


def test_trend_chart_has_one_point_per_evaluated_year(app, evaluated):
    from sqlalchemy import event

    from tracker.extensions import db

    client = client_for(app, "duxue")

    def statements(url: str) -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    one_year = statements("/indicators/counties/532301/trend")
    for year in (2023, 2024):
        ops.import_schools(xlsx(hand_checked_rows(year)), f"{year}.xlsx", year)
        enter_all(evaluated, year)
        ops.evaluate(evaluated, year)
    ops.import_schools(xlsx(_uneven_sports_area(2025)), "b.xlsx", 2025)
    ops.evaluate(evaluated, 2025)
    db.session.commit()
    assert statements("/indicators/counties/532301/trend") == one_year  # all years in a fixed number of statements

    page = client.get("/indicators/counties/532301/trend").get_data(as_text=True)
    for level in ("primary", "junior"):
        chart = _svg(page, f"trend-{level}")
        panels = chart.split('<g class="panel" ')[1:]
        assert [re.match(r'data-code="(R\d)"', p).group(1) for p in panels] == R_CODES
        for panel in panels:  # a point for each evaluated year, in order, and the limit drawn
            assert re.findall(r'<g class="point (?:over|within)" data-x="(\d{4})">', panel) == ["2023", "2024", "2025"]
            assert 'class="limit"' in panel and ("限值 0.5" if level == "primary" else "限值 0.45") in panel
    r5 = _svg(page, "trend-primary").split('data-code="R5"', 1)[1].split('<g class="panel"', 1)[0]
    assert re.findall(r'<g class="point (over|within)" data-x="(\d{4})">', r5) == [
        ("within", "2023"), ("within", "2024"), ("over", "2025")]
    assert "✗ 0.996" in r5 and "R5 2025：0.996，超过限值 0.5。" in r5
    assert "超过限值：R5 2025。" in _svg(page, "trend-primary")
    assert "各年度全部指标均未超过限值。" in _svg(page, "trend-junior")
    assert _external_urls(page) == set(), _external_urls(page)
