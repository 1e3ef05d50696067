"""Flags computed from the data: overdue (counties and departments), milestones, accountability; idempotent,
resolved automatically when the condition goes, reopened when it returns, kept resolved once acted on."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, update

from tests.helpers import unit_named
from tracker.clock import LOCAL_TZ
from tracker.models import CountyEvaluation, CountyFlag, Notification, Task
from tracker.supervision import flags
from tracker.supervision import operations as sup_ops


def open_flags(db, kind):
    return {(f.unit.name, f.year): f for f in db.session.scalars(
        select(CountyFlag).where(CountyFlag.kind == kind, CountyFlag.resolved_at.is_(None)))}


def passes(db, *names, year=2025):
    for name in names:
        db.session.add(CountyEvaluation(unit_id=unit_named(name).id, year=year, result={"pass": True}, passed=True,
                                        assessable=True, catalog_version=0, computed_at=datetime(2026, 1, 1)))
    db.session.commit()


def test_milestone_flag_when_the_date_has_passed_and_too_few_counties_pass(db, chuxiong, make_user, clock):
    sup = make_user("duxue", "supervisor")
    clock.set(datetime(2025, 12, 31, 9, 0, tzinfo=LOCAL_TZ))
    assert flags.refresh()["milestone"]["opened"] == 0  # the milestone day itself is not past yet
    clock.set(datetime(2026, 1, 1, 9, 0, tzinfo=LOCAL_TZ))
    assert flags.refresh()["milestone"]["opened"] == 10  # no evaluation: 0% of 10 counties < 20%
    db.session.commit()
    got = open_flags(db, "milestone")
    assert len(got) == 10 and all(year == 2025 for _, year in got)
    assert got[("禄丰市", 2025)].detail == {"plan_id": chuxiong["plan_id"], "due": "2025-12-31", "target": 0.2, "actual": 0.0,
                                          "text": "到2025年底，全州确保20%的县市实现义务教育优质均衡发展目标"}
    notices = db.session.scalars(select(Notification).where(Notification.user_id == sup.id, Notification.kind == "flag")).all()
    assert len(notices) == 1 and "0%" in notices[0].subject
    assert flags.refresh()["milestone"] == {"opened": 0, "updated": 0, "resolved": 0, "reopened": 0}  # idempotent

    passes(db, "楚雄市")  # 10% still short: the passing county's flag closes, the others stay
    assert flags.refresh()["milestone"] == {"opened": 0, "updated": 9, "resolved": 1, "reopened": 0}
    assert ("楚雄市", 2025) not in open_flags(db, "milestone") and open_flags(db, "milestone")[("禄丰市", 2025)].detail["actual"] == 0.1
    passes(db, "禄丰市")  # 20%: the milestone is met, every flag closes by itself
    assert flags.refresh()["milestone"]["resolved"] == 9
    db.session.commit()
    assert open_flags(db, "milestone") == {}
    assert db.session.scalar(select(func.count()).select_from(CountyFlag).where(CountyFlag.kind == "milestone")) == 10


def test_overdue_flags_for_counties_and_departments(db, chuxiong, clock):
    clock.set(datetime(2027, 2, 1, 9, 0, tzinfo=LOCAL_TZ))  # department tasks (due 2026-12-31) are 32 days late
    flags.refresh()
    db.session.commit()
    got = open_flags(db, "overdue")
    assert ("州教育体育局", 2027) in got and ("禄丰市", 2027) in got and ("武定县", 2027) not in got
    detail = got[("州教育体育局", 2027)].detail
    assert detail["threshold_days"] == 30 and detail["worst_days"] == 32 and detail["count"] == 24 and len(detail["tasks"]) == flags.DETAIL_TASKS
    lines = flags.reasons("overdue", detail, 2027)
    assert lines[0].startswith(f"{detail['count']}项任务逾期满30天") and "逾期32天" in lines[1]


def test_overdue_flag_goes_and_comes_back_with_its_condition_but_stays_closed_once_acted_on(db, chuxiong, make_user, clock):
    sup = make_user("duxue", "supervisor")
    lufeng = unit_named("禄丰市")
    flags.refresh()
    db.session.commit()
    flag = open_flags(db, "overdue")[("禄丰市", 2026)]
    db.session.execute(update(Task).where(Task.unit_id == lufeng.id, Task.deadline < date(2026, 11, 23))
                       .values(deadline=date(2027, 6, 30)).execution_options(synchronize_session=False))
    assert flags.refresh()["overdue"]["resolved"] == 1
    db.session.refresh(flag)
    assert flag.resolved_at is not None and flag.detail["resolution"] == "auto"
    db.session.execute(update(Task).where(Task.unit_id == lufeng.id, Task.deadline == date(2027, 6, 30))
                       .values(deadline=date(2025, 12, 31)).execution_options(synchronize_session=False))
    assert flags.refresh()["overdue"]["reopened"] == 1
    db.session.refresh(flag)
    assert flag.resolved_at is None
    # an interview opened from the flag handles it for the year
    sup_ops.open_interview(sup, lufeng, scheduled_at=datetime(2026, 12, 1, 10, tzinfo=LOCAL_TZ), place="会议室", flag=flag)
    assert flags.refresh()["overdue"]["reopened"] == 0
    db.session.commit()
    assert flag.resolved_at is not None and flag.detail["resolution"] == "interview"


def test_flags_page_lists_reasons_and_offers_an_interview(app, db, chuxiong, make_user, login, client):
    make_user("duxue", "supervisor")
    login("duxue")
    page = client.get("/supervision/flags").get_data(as_text=True)  # refreshed on load
    assert "逾期未完成" in page and "目标节点未达成" in page and "禄丰市" in page
    assert "发起约谈" in page and "项任务逾期满30天" in page and "本县市未达标" in page
    page = client.get("/supervision/flags?kind=milestone").get_data(as_text=True)
    assert "逾期满30天" not in page and page.count("/supervision/interviews/new?unit=") == 10
