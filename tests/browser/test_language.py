"""The language switch in a real browser: 元谋县's officer reads the site in English, then goes back to Chinese.

Only this module signs in as u532328, so the language it saves on that account changes no other test's pages.
"""
from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with the install command
    expect = None

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u3400-\u9fff]")


def switch(page, name: str) -> None:
    with page.expect_navigation():
        page.locator("#language").get_by_role("button", name=name).click()


def test_an_officer_switches_to_english_and_back(live_server, login, new_page, snap):
    page = login(new_page(), "u532328")
    page.goto("/tasks")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("navigation", name="主导航")).to_contain_text("我的任务")
    try:
        switch(page, "English")
        expect(page).to_have_url(re.compile(r"/tasks$"))  # the same page, now in English
        expect(page.locator("html")).to_have_attribute("lang", "en")
        nav = page.get_by_role("navigation", name="Main navigation")
        expect(nav).to_contain_text("My tasks")
        expect(nav).to_contain_text("Plans")
        expect(page.locator(".who")).to_contain_text("Sign out")
        # the task table: English headings and dates, Chinese only in the plan's own words
        headings = page.locator("table thead th").all_inner_texts()
        assert "Deadline" in headings and not any(CJK.search(h) for h in headings), headings
        expect(page.locator("table tbody").first).to_contain_text(re.compile(r"\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}"))
        snap(page, "tasks-en")

        # the choice belongs to the account: another browser opens the sign-in page in Chinese (nobody is
        # signed in there yet) and, once the officer signs in, shows the site in English
        fresh = new_page()
        fresh.goto("/login")
        expect(fresh.locator("html")).to_have_attribute("lang", "zh-CN")
        fresh.get_by_label("用户名").fill("u532328")
        fresh.get_by_label("密码").fill(live_server.accounts["u532328"])
        with fresh.expect_navigation():
            fresh.get_by_role("button", name="登录").click()
        expect(fresh.get_by_role("navigation", name="Main navigation")).to_contain_text("My tasks")
        snap(fresh, "home-en-other-browser")
    finally:
        switch(page, "中文")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("navigation", name="主导航")).to_contain_text("我的任务")
    snap(page, "tasks-zh")
