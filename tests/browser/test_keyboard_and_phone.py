"""Keyboard-only sign-in, and the task pages on a phone-sized screen."""
from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with the install command
    expect = None

pytestmark = pytest.mark.browser

PHONE = (390, 844)
UNIT = "u532301"  # 楚雄市经办人


def focused(page) -> str:
    return page.evaluate("() => { const e = document.activeElement; return e ? (e.id || e.tagName.toLowerCase()) : '' }")


def test_login_form_can_be_completed_and_submitted_with_tab_and_enter_only(page, live_server, snap):
    page.goto("/login")
    snap(page, "login")
    assert focused(page) == "username", "the user-name field should have the focus when the page opens"
    page.keyboard.type(UNIT)
    page.keyboard.press("Tab")
    assert focused(page) == "password"
    page.keyboard.type(live_server.accounts[UNIT])
    page.keyboard.press("Tab")
    assert focused(page) == "remember"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.type") == "submit"
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "登录"
    snap(page, "focus-on-submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("楚雄市的任务")
    snap(page, "signed-in")

    # the first Tab on a page reaches the skip link, and following it lands on the main content
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "跳到正文"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))


OVERFLOW = """() => {
  const b = document.body, d = document.documentElement;
  const tables = [...document.querySelectorAll('main table')].map(t => ({
    overflows: t.getBoundingClientRect().right > d.clientWidth + 1 || t.scrollWidth > t.parentElement.clientWidth + 1,
    wrapped: t.closest('.table-wrap') !== null,
    head: (t.querySelector('th') || {}).textContent || '',
  }));
  return {body: [b.scrollWidth, b.clientWidth], doc: [d.scrollWidth, d.clientWidth], tables};
}"""


def check_fits(page, url: str) -> dict:
    """The page at `url` does not scroll sideways; a table wider than the screen sits in a .table-wrap scroller."""
    m = page.evaluate(OVERFLOW)
    assert m["body"][0] <= m["body"][1] + 1, f"{url}: the page body scrolls sideways at {PHONE[0]} px: {m}"
    assert m["doc"][0] <= m["doc"][1] + 1, f"{url}: the page scrolls sideways at {PHONE[0]} px: {m}"
    for t in m["tables"]:
        assert not t["overflows"] or t["wrapped"], f"{url}: a table wider than the screen is not in .table-wrap: {t}"
    return m


def test_task_list_fits_a_phone_screen(signed_in, snap):
    phone = signed_in(UNIT, viewport=PHONE)
    phone.goto("/tasks")
    expect(phone.locator("h1")).to_be_visible()
    rows = phone.locator("main table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 20  # 楚雄市 has a task in 23 of the 24 measures
    snap(phone, "phone-task-list")
    check_fits(phone, "/tasks")
    # the table sits in a .table-wrap that scrolls sideways on its own when the columns need more room
    wrap = phone.locator("main table").first.locator("xpath=..")
    expect(wrap).to_have_class(re.compile(r"\btable-wrap\b"))
    assert wrap.evaluate("w => getComputedStyle(w).overflowX") == "auto"

    # a task's own page fits too
    detail = phone.get_by_role("link", name=re.compile(r"^（三）")).first.get_attribute("href")
    phone.goto(detail)
    expect(phone.locator("h1")).to_contain_text("楚雄市 · （三）")
    snap(phone, "phone-task")
    check_fits(phone, detail)


def test_unit_desk_fits_a_phone_screen(signed_in, snap):
    phone = signed_in(UNIT, viewport=PHONE)
    phone.goto("/")
    expect(phone.locator("h1")).to_have_text("楚雄市的任务")
    snap(phone, "phone-unit-desk")
    check_fits(phone, "/")


def test_weekly_report_fits_a_phone_screen(signed_in, snap):
    phone = signed_in("lingdao", viewport=PHONE)
    phone.goto("/reports/weekly")
    expect(phone.locator("h1")).to_contain_text("督办周报")
    snap(phone, "phone-weekly-report")
    check_fits(phone, "/reports/weekly")


def test_dashboard_charts_scale_down_on_a_phone_screen(signed_in, snap):
    phone = signed_in("lingdao", viewport=PHONE)
    phone.goto("/dashboard")
    expect(phone.locator("h1")).to_contain_text("领导驾驶舱")
    snap(phone, "phone-dashboard")
    check_fits(phone, "/dashboard")
    cropped = phone.evaluate("""() => [...document.querySelectorAll('svg.chart')]
        .filter(s => !s.getAttribute('viewBox') && s.getBoundingClientRect().width < s.width.baseVal.value - 1)
        .map(s => s.getAttribute('aria-label'))""")
    assert cropped == [], f"charts cropped at {PHONE[0]} px: {cropped}"
