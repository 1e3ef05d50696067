"""Plan import: counts computed from the file, re-import in place, Wanzhou format, CLI JSON."""
from __future__ import annotations

import json

import yaml
from sqlalchemy import func, select

from tests.conftest import CHUXIONG, ROOT
from tracker.models import Measure, Section, Task, Unit
from tracker.plans.operations import import_plan
from tracker.plans.planfile import read_plan_file

GROUP = "各县市人民政府"


def expected_task_count(path) -> int:
    """Tasks the rules demand, counted straight from the YAML: departments + 10 per county measure."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    group_size = {phrase: len(data["units"][target]) for phrase, target in (data.get("unit_groups") or {}).items()}
    total = 0
    for section in data["sections"]:
        for m in section["measures"]:
            units = m.get("units", data["plan"].get("default_units", []))
            total += sum(group_size.get(name, 1) for name in units)
    return total


def test_chuxiong_counts(chuxiong, db):
    assert chuxiong["sections"] == 7
    assert chuxiong["measures"] == 24
    assert chuxiong["tasks"] == expected_task_count(CHUXIONG)
    assert db.session.scalar(select(func.count()).select_from(Task)) == chuxiong["tasks"]
    counties = db.session.scalars(select(Unit).where(Unit.kind == "county")).all()
    assert {u.name for u in counties} == {"楚雄市", "禄丰市", "双柏县", "牟定县", "南华县", "姚安县", "大姚县", "永仁县", "元谋县", "武定县"}
    # every measure naming 各县市人民政府 has exactly one task per county
    m1 = db.session.scalar(select(Measure).where(Measure.number == "一"))
    m1_units = db.session.scalars(select(Unit.name).join(Task, Task.unit_id == Unit.id).where(Task.measure_id == m1.id)).all()
    assert sorted(m1_units) == sorted(["州教育体育局"] + [u.name for u in counties])
    m24 = db.session.scalar(select(Measure).where(Measure.number == "二十四"))
    assert db.session.scalar(select(func.count()).select_from(Task).where(Task.measure_id == m24.id, Task.unit_id.in_([u.id for u in counties]))) == 0


def test_lead_unit_and_text_simplified(chuxiong, db):
    m = db.session.scalar(select(Measure).where(Measure.number == "二十一"))
    assert m.unit_links[0].unit.kind_value == "county" and m.unit_links[0].is_lead
    lead_tasks = db.session.scalars(select(Task).where(Task.measure_id == m.id, Task.is_lead)).all()
    assert len(lead_tasks) == 10  # 各县市人民政府 is listed first in (二十一): every county leads
    all_text = " ".join(db.session.scalars(select(Measure.text)))
    for artefact in ("最佳化", "套用", "中国小", "网际网路", "亲职教育", "智慧型"):
        assert artefact not in all_text
    assert "家庭教育促进法" in all_text


def test_deadlines_follow_schedule(chuxiong, db):
    chuxiong_city = db.session.scalar(select(Unit).where(Unit.name == "楚雄市"))
    wuding = db.session.scalar(select(Unit).where(Unit.name == "武定县"))
    dept = db.session.scalar(select(Unit).where(Unit.name == "州财政局"))
    deadline = lambda u: {t.deadline for t in db.session.scalars(select(Task).where(Task.unit_id == u.id))}  # noqa: E731
    data = yaml.safe_load(CHUXIONG.read_text(encoding="utf-8"))
    years = data["county_schedule"]["target_years"]
    assert {d.isoformat() for d in deadline(chuxiong_city)} == {f"{years['楚雄市']}-12-31"}
    assert {d.isoformat() for d in deadline(wuding)} == {f"{years['武定县']}-12-31"}
    assert {d.isoformat() for d in deadline(dept)} == {"2026-12-31"}  # end of the (test clock's) current year


def test_reimport_updates_in_place_and_keeps_progress(chuxiong, db):
    task = db.session.scalar(select(Task).order_by(Task.id).limit(1))
    task.status, task.progress_percent = "in_progress", 40
    from tracker.tasks.models import TaskEvent
    from tracker.clock import utcnow

    db.session.add(TaskEvent(task_id=task.id, event="accept", from_status="assigned", to_status="in_progress", created_at=utcnow()))
    db.session.commit()
    again = import_plan(read_plan_file(CHUXIONG))
    db.session.commit()
    assert again["created"] == 0 and again["tasks"] == chuxiong["tasks"]
    db.session.refresh(task)
    assert (task.status, task.progress_percent) == ("in_progress", 40)
    assert db.session.scalar(select(func.count()).select_from(Section)) == 7


def test_reimport_with_unit_removed_cancels_worked_task_and_deletes_pristine(chuxiong, db, tmp_path):
    data = yaml.safe_load(CHUXIONG.read_text(encoding="utf-8"))
    m2 = data["sections"][0]["measures"][1]
    removed = [n for n in m2["units"] if n != GROUP][-2:]
    m2["units"] = [n for n in m2["units"] if n not in removed]
    worked = db.session.scalar(select(Task).join(Unit).where(Unit.name == removed[0], Task.measure.has(number=m2["number"])))
    from tracker.clock import utcnow
    from tracker.tasks.models import TaskEvent

    db.session.add(TaskEvent(task_id=worked.id, event="accept", from_status="assigned", to_status="in_progress", created_at=utcnow()))
    worked.status = "in_progress"
    db.session.commit()
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = import_plan(read_plan_file(path))
    db.session.commit()
    assert result["removed"] == 2
    db.session.refresh(worked)
    assert worked.status == "cancelled"
    pristine = db.session.scalar(select(Task).join(Unit).where(Unit.name == removed[1], Task.measure.has(number=m2["number"])))
    assert pristine is None


def test_wanzhou_plan_fits_the_format(db):
    path = ROOT / "data" / "plans" / "wanzhou-2022.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    result = import_plan(read_plan_file(path))
    db.session.commit()
    assert result["sections"] == len(data["sections"]) == 10
    assert result["measures"] == sum(len(s["measures"]) for s in data["sections"])
    assert result["tasks"] == expected_task_count(path)
    # a measure with a dated target is due on its latest target date
    dated = next(m for s in data["sections"] for m in s["measures"] if m.get("targets") and "deadline" not in m)
    due = max(str(t["due"]) for t in dated["targets"])
    task = db.session.scalar(select(Task).join(Measure).where(Measure.number == str(dated["number"])).limit(1))
    assert task.deadline.isoformat() == due


def test_cli_import_and_list_json(app, db):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["plan", "import", str(CHUXIONG), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert (result["sections"], result["measures"]) == (7, 24)
    assert result["tasks"] == expected_task_count(CHUXIONG)
    units = json.loads(runner.invoke(args=["units", "list", "--json"]).output)
    code = next(u["code"] for u in units if u["name"] == "禄丰市")
    assert code == "532302"
    listed = json.loads(runner.invoke(args=["tasks", "list", "--unit", code, "--json"]).output)
    assert len(listed) == 23 and {r["unit_name"] for r in listed} == {"禄丰市"}
    assert set(listed[0]) >= {"id", "measure", "unit_code", "unit_name", "deadline", "status"}
    assert json.loads(runner.invoke(args=["tasks", "list", "--status", "completed", "--json"]).output) == []
