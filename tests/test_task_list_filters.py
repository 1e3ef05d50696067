"""The task list's filter form and count: the total matches the listed tasks for every filter, the county and
department lists wait for a plan once they would be too long, a unit chooses among its own plans, and the
quick <select> renders exactly what wtforms' Select renders."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.helpers import unit_named
from tracker.extensions import db as _db
from tracker.models import Task
from tracker.tasks.queries import task_count_stmt, task_list_stmt


def _options(page: str, name: str) -> list[str]:
    block = re.search(rf'<select id="{name}" name="{name}">(.*?)</select>', page, re.S)[1]
    return re.findall(r"<option[^>]*>([^<]*)</option>", block)


@pytest.mark.parametrize("filters", [
    {}, {"status": "assigned"}, {"q": "教师"}, {"q": "禄丰"}, {"unit_kind": "department"}, {"unit_code": "532302"},
    {"open_only": True}, {"ladder": "normal", "q": "学校"},
])
def test_the_count_is_the_number_of_listed_tasks(app, db, chuxiong, filters):
    listed = len(_db.session.scalars(task_list_stmt(**filters)).unique().all())
    assert _db.session.scalar(task_count_stmt(**filters)) == listed
    if not {"q", "unit_kind", "unit_code"} & set(filters):  # tasks alone: no join to count
        assert "JOIN" not in str(task_count_stmt(**filters))


def test_long_unit_lists_wait_for_a_plan(app, db, chuxiong, make_user, login, client, monkeypatch):
    from tracker.tasks import views

    make_user("duxue", "supervisor")
    login("duxue")
    page = client.get("/tasks").get_data(as_text=True)
    counties = _options(page, "county")
    assert counties[0] == "全部县市" and "禄丰市" in counties and len(counties) == 11
    monkeypatch.setattr(views, "UNIT_LIST_CAP", 5)  # 10 counties, 14 departments: both over the cap
    page = client.get("/tasks").get_data(as_text=True)
    assert _options(page, "county") == ["（先选择方案）"] and _options(page, "department") == ["（先选择方案）"]
    lufeng = unit_named("禄丰市")
    page = client.get(f"/tasks?county={lufeng.id}").get_data(as_text=True)
    assert _options(page, "county") == ["（先选择方案）", "禄丰市"]  # the chosen one stays chosen
    assert f'<option selected value="{lufeng.id}">禄丰市</option>' in page
    assert "共 23 项" in page


def test_a_list_longer_than_the_count_cap_says_more_than(app, db, chuxiong, make_user, login, client, monkeypatch):
    from tracker.tasks import views

    make_user("duxue", "supervisor")
    login("duxue")
    assert "共 300 项" in client.get("/tasks").get_data(as_text=True)
    monkeypatch.setattr(views, "COUNT_CAP", 100)
    page = client.get("/tasks").get_data(as_text=True)
    assert "超过 100 项" in page and "第 1 页" in page and "共 300 项" not in page
    assert 'href="/tasks?page=2"' in page and page.count('href="/tasks/') == 50
    page = client.get("/tasks?page=4").get_data(as_text=True)  # beyond the cap: still paged while pages are full
    assert "第 4 页" in page and 'href="/tasks?page=5"' in page and page.count('href="/tasks/') == 50
    lufeng = unit_named("禄丰市")
    assert "共 23 项" in client.get(f"/tasks?county={lufeng.id}").get_data(as_text=True)  # under the cap: exact
    with app.app_context():
        assert _db.session.scalar(task_count_stmt(cap=100)) == 101


def test_a_unit_chooses_among_its_own_plans(app, db, chuxiong, make_user, login, client):
    from tracker.plans.models import Plan

    _db.session.add(Plan(code="other", title="另一个方案", issuer="", doc_number="", preamble="", extra={}))
    _db.session.commit()
    make_user("lufeng", "unit", unit_named("禄丰市").code)
    login("lufeng")
    page = client.get("/tasks").get_data(as_text=True)
    assert _options(page, "plan") == ["全部方案", "楚雄州义务教育优质均衡发展实施方案"]
    assert "共 23 项" in page
    assert _db.session.scalar(select(func.count()).select_from(Plan)) == 2


def test_the_quick_select_renders_what_wtforms_renders(app):
    from flask import request
    from wtforms.widgets import Select

    from tracker.tasks.filters import TaskFilterForm, choices

    with app.test_request_context("/tasks?county=2"):
        form = TaskFilterForm(request.args)
        form.county.choices = choices([("", "全部县市"), ("1", 'A<&"县'), ("2", "B县"), ("3", "")])
        assert str(form.county(id="county")) == str(Select()(form.county, id="county"))
        assert '<option selected value="2">B县</option>' in str(form.county(id="county"))
