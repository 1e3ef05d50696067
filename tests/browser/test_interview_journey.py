"""A supervisor opens an interview from a flag, in a real browser.

On the session's server (clock at 2026-11-23) 楚雄市's county tasks fell due at the end of 2025, so its open tasks
are overdue by far more than the 30 days after which a county is flagged for an interview (逾期未完成). The module
also gives 楚雄市 a 2025 evaluation whose primary R5 coefficient of variation is over its limit (the school data
are imported through the CLI, as a county would upload them), so the interview's reasons list overdue tasks and
a failing indicator; the county's evaluation page draws that CV against its limit.

The supervisor signs in, opens 约谈问责 (/supervision/flags), finds 楚雄市's flag, opens an interview from it
(the form comes prefilled with the reasons), schedules it and lands on the interview. The flag is then handled:
it leaves the open list, and 楚雄市's other open flag links to the interview. Only this module opens an
interview or imports school data, and only for 楚雄市.
"""
from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with the install command
    expect = None

pytestmark = pytest.mark.browser

COUNTY, CODE = "楚雄市", "532301"
WHEN = "2026-11-30T10:00"  # a week after the server's today
PLACE = "州教育体育局三楼会议室"
ATTENDEES = "州教育督导室 李督学"
INTERVIEWEES = "楚雄市人民政府分管副市长、楚雄市教育体育局局长"


@pytest.fixture(scope="module")
def failing_evaluation(live_server, tmp_path_factory):
    """楚雄市 2025: three schools; 东瓜小学 has ten times the sports area per pupil, so the primary CV of R5 is
    0.996 against a limit of 0.5 (see tests/test_indicators_pages.py); imported and evaluated through the CLI."""
    from tests.test_indicators_evaluate import hand_checked_rows
    from tests.test_indicators_import import xlsx

    rows = hand_checked_rows(2025)
    rows[1]["sports_area"] = 300 * 80
    path = tmp_path_factory.mktemp("schools") / "楚雄市-2025.xlsx"
    path.write_bytes(xlsx(rows))
    live_server.flask("schools", "import", str(path), "--year", "2025", "--evaluate", "--json")
    return {"year": 2025}


def click_and_wait(page, locator) -> None:
    with page.expect_navigation():
        locator.click()


def flag_rows(page, county: str, kind: str):
    return page.locator("tbody tr[id^='flag-']").filter(has_text=county).filter(has_text=kind)


def test_supervisor_opens_an_interview_from_a_flag(signed_in, snap, failing_evaluation):
    page = signed_in("duxue")

    # 1. the flags page, reached from the main navigation, lists 楚雄市's overdue flag with its reasons
    page.goto("/")
    click_and_wait(page, page.get_by_role("navigation", name="主导航").get_by_role("link", name="约谈问责"))
    expect(page).to_have_url(re.compile(r"/supervision/flags$"))
    expect(page.locator("h1")).to_have_text("待跟进标记")
    row = flag_rows(page, COUNTY, "逾期未完成")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(re.compile(r"\d+项任务逾期满30天或已进入约谈等级，最长逾期\d+天"))
    expect(row).to_contain_text("（一）明确创建目标任务：逾期")
    flag_id = int(row.get_attribute("id").removeprefix("flag-"))
    expect(flag_rows(page, "禄丰市", "逾期未完成")).to_have_count(1)  # the other county due in 2025
    snap(page, "flags")

    # 2. 发起约谈 from the flag: the form names the county and the flag, and lists the reasons, all ticked
    click_and_wait(page, row.get_by_role("link", name="发起约谈"))
    expect(page).to_have_url(re.compile(rf"/supervision/interviews/new\?unit={CODE}&flag={flag_id}$"))
    expect(page.locator("h1")).to_have_text(f"发起约谈：{COUNTY}")
    expect(page.locator("main")).to_contain_text("来自标记：逾期未完成（2026年）")
    reasons = page.locator("label.check")
    texts = [t.strip() for t in reasons.all_inner_texts()]
    overdue = [t for t in texts if re.search(r"：逾期\d+天（完成时限2025-12-31，督办等级：", t)]
    indicators = [t for t in texts if t.startswith("2025年")]
    assert len(overdue) >= 20, texts  # 楚雄市 has a task in 23 of the 24 measures, all due at the end of 2025
    assert "2025年督导评估未达标方面：资源配置" in indicators, texts
    assert any(re.match(r"2025年 R5 .*（差异系数，小学）：实际0\.99\d*，标准0\.5$", t) for t in indicators), texts
    for box in reasons.locator("input[type=checkbox]").all():
        expect(box).to_be_checked()
    snap(page, "new-interview-prefilled")

    # 3. the supervisor schedules it and submits
    page.get_by_label(re.compile("^约谈时间")).fill(WHEN)
    page.get_by_label("约谈地点").fill(PLACE)
    page.get_by_label("约谈人", exact=True).fill(ATTENDEES)
    page.get_by_label("被约谈人", exact=True).fill(INTERVIEWEES)
    snap(page, "new-interview-filled")
    click_and_wait(page, page.get_by_role("button", name=f"发起约谈并通知{COUNTY}"))

    # 4. the interview page: county, status, time and place, and the reasons (the flag's first)
    expect(page).to_have_url(re.compile(r"/supervision/interviews/\d+$"))
    interview_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".flash.success")).to_have_text(f"已发起对{COUNTY}的约谈，已通知该单位。")
    expect(page.locator("h1")).to_contain_text(f"约谈 #{interview_id}：{COUNTY}")
    expect(page.locator("#interview-status")).to_have_text("待约谈")
    main = page.locator("main")
    expect(main).to_contain_text("2026年11月30日 10:00")
    expect(main).to_contain_text(PLACE)
    expect(main).to_contain_text(INTERVIEWEES)
    listed = page.locator("#reasons li")
    expect(listed).to_have_count(1 + len(texts))  # the flag, then every ticked reason
    expect(listed.first).to_contain_text(re.compile(r"^逾期未完成：\d+项任务逾期满30天"))
    first_task = listed.filter(has_text=re.compile(r"^（一）明确创建目标任务：逾期\d+天（完成时限2025-12-31"))
    expect(first_task).to_have_count(1)
    expect(first_task.get_by_role("link")).to_have_attribute("href", re.compile(r"^/tasks/\d+$"))  # each task linked
    expect(listed.filter(has_text="2025年督导评估未达标方面：资源配置")).to_have_count(1)
    snap(page, "interview")

    # 5. back on the flags page: the flag was handled by the interview, and 楚雄市's other flag links to it
    click_and_wait(page, page.get_by_role("link", name="待跟进标记"))
    expect(page.locator(f"#flag-{flag_id}")).to_have_count(0)
    expect(flag_rows(page, COUNTY, "逾期未完成")).to_have_count(0)
    other = page.locator("tbody tr[id^='flag-']").filter(has_text=COUNTY)
    expect(other).to_have_count(1)
    expect(other).to_contain_text("目标节点未达成")
    link = other.get_by_role("link", name=f"约谈 #{interview_id}（待约谈）")
    expect(link).to_have_attribute("href", f"/supervision/interviews/{interview_id}")
    expect(flag_rows(page, "禄丰市", "逾期未完成").get_by_role("link", name="发起约谈")).to_have_count(1)
    snap(page, "flags-after")
    click_and_wait(page, link)
    expect(page.locator("h1")).to_contain_text(f"约谈 #{interview_id}：{COUNTY}")

    # 6. the interview is listed, scheduled
    page.goto("/supervision/interviews")
    expect(page.locator("tbody tr").filter(has_text=COUNTY).filter(has_text="待约谈")).to_have_count(1)
    snap(page, "interviews")


def test_county_evaluation_page_draws_each_cv_against_its_limit(signed_in, snap, failing_evaluation):
    page = signed_in("duxue")
    page.goto(f"/indicators/counties/{CODE}/{failing_evaluation['year']}")
    expect(page.locator("h1")).to_have_text(f"{COUNTY} 2025年县域义务教育优质均衡发展评估")
    chart = page.locator("svg#cv-primary")
    expect(chart).to_be_visible()
    expect(chart.locator("g.bar")).to_have_count(7)
    over = chart.locator("g.bar.over")
    expect(over).to_have_count(1)
    expect(over).to_have_attribute("data-code", "R5")
    expect(over.locator("text.value")).to_have_text("✗ 0.996 超过限值 0.5")
    expect(page.locator("svg#cv-junior g.bar.within")).to_have_count(7)
    # the chart's accessible name is its <title>; the table below is its text alternative
    expect(chart).to_have_accessible_name(f"{COUNTY} 2025年小学各项指标校际差异系数与限值")
    expect(chart).to_have_accessible_description(re.compile(r"R5：0\.996，超过限值 0\.5。.*超过限值的指标：R5。"))
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150, box
    snap(page, "county-evaluation")

    click_and_wait(page, page.get_by_role("link", name="历年趋势"))
    trend = page.locator("svg#trend-primary")
    expect(trend).to_be_visible()
    expect(trend.locator("g.panel")).to_have_count(7)
    expect(trend.locator("g.panel[data-code='R5'] g.point.over")).to_have_attribute("data-x", "2025")
    snap(page, "county-trend")
