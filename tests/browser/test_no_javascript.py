"""No page needs JavaScript to show its data: the same content with JavaScript switched off."""
from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with the install command
    expect = None

pytestmark = pytest.mark.browser


def main_text(page) -> str:
    return re.sub(r"\s+", " ", page.locator("main").inner_text()).strip()


def test_dashboard_and_task_page_read_the_same_without_javascript(new_page, signed_in, login, snap):
    with_js = signed_in("lingdao")
    # sign in through the form with scripts off: the form itself needs none
    no_js = login(new_page(javascript=False), "lingdao")
    assert no_js.evaluate("() => 1") == 1  # Playwright's own probes still run; the page's scripts would not

    with_js.goto("/dashboard")
    no_js.goto("/dashboard")
    for p, name in ((with_js, "dashboard-js"), (no_js, "dashboard-no-js")):
        expect(p.locator("h1")).to_contain_text("领导驾驶舱 · 楚雄州义务教育优质均衡发展实施方案")
        expect(p.locator("table.matrix tbody tr")).to_have_count(10)
        expect(p.locator("svg.chart").first).to_be_visible()
        snap(p, name)
    text = main_text(no_js)
    for phrase in ("县市 × 措施 督办矩阵", "任务状态", "待签收", "禄丰市", "武定县", "逾期最久的 20 项"):
        assert phrase in text, phrase
    assert main_text(with_js) == text

    task_url = no_js.locator("table.matrix tbody tr").filter(has_text="楚雄市").locator("td.cell a").first.get_attribute("href")
    with_js.goto(task_url)
    no_js.goto(task_url)
    for p, name in ((with_js, "task-js"), (no_js, "task-no-js")):
        expect(p.locator("h1")).to_have_text("楚雄市 · （一）明确创建目标任务")
        expect(p.locator("#task-status")).to_have_text("待签收")
        snap(p, name)
    text = main_text(no_js)
    for phrase in ("完成时限：2025年12月31日", "佐证材料", "进展报告", "办理记录"):
        assert phrase in text, phrase
    assert main_text(with_js) == text
    # the measure's full text is in a <details>: it opens without scripts too
    no_js.get_by_text("措施原文").click()
    expect(no_js.locator(".measure-text")).to_contain_text("到2025年底")
