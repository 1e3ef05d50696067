"""A deterministic synthetic national dataset: ~2,900 counties, each with its own plan (一县一案),
~700,000 tasks with histories, and ~200,000 schools with yearly data — bulk inserted.

Every county gets a county plan with the 24 measures of the reference plan; each measure is
assigned to the county government and a few of its departments, so tasks ≈ counties × 240.
Rows go in with executemany batches of core INSERTs (one round trip per batch on PostgreSQL's
pipeline), never one ORM object per row.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import insert, select

from tracker.extensions import db
from tracker.plans.models import Measure, MeasureUnit, Plan, Section
from tracker.tasks.models import Task, TaskEvent
from tracker.units.models import Unit

DEPARTMENTS = ["教育体育局", "发展改革局", "财政局", "人力资源和社会保障局", "自然资源局", "住房城乡建设局",
               "公安局", "民政局", "卫生健康局", "委编办"]
SCHOOL_TYPES = ["小学"] * 60 + ["初中"] * 22 + ["九年一贯制"] * 8 + ["教学点"] * 7 + ["完全中学"] * 2 + ["特殊教育"]
BATCH = 5000


@dataclass
class Sizes:
    counties: int = 2900
    schools: int = 200_000
    years: int = 3
    units_per_measure: int = 10  # the county government and 9 of its departments
    seed: int = 1


def _batches(rows: list[dict], size: int = BATCH):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def _bulk(table, rows: list[dict]) -> None:
    for chunk in _batches(rows):
        db.session.execute(insert(table), chunk)


def _reference_measures() -> list[tuple[str, str, str, str]]:
    """(section number, section title, measure number, measure title) of the reference plan file."""
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[2] / "data" / "plans" / "chuxiong-2023.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [(str(s["number"]), s["title"], str(m["number"]), m["title"]) for s in data["sections"] for m in s["measures"]]


def generate(sizes: Sizes, today: date, *, progress=lambda msg: None) -> dict:
    rnd = random.Random(sizes.seed)
    now = datetime(today.year, today.month, today.day, 9, 0)
    measures_ref = _reference_measures()
    units_table, plan_table = Unit.__table__, Plan.__table__
    # units: one county unit and its departments per county; codes are synthetic and stable
    county_rows, dept_rows = [], []
    for c in range(sizes.counties):
        code = f"G{c:05d}"
        county_rows.append({"code": code, "name": f"示例县{c:05d}", "kind": "county", "aliases": []})
        for d, dept in enumerate(DEPARTMENTS):
            dept_rows.append({"code": f"{code}-D{d:02d}", "name": f"示例县{c:05d}{dept}", "kind": "department", "aliases": []})
    _bulk(units_table, county_rows + dept_rows)
    unit_ids = dict(db.session.execute(select(Unit.code, Unit.id).where(Unit.code.like("G%"))).all())
    progress(f"units: {len(unit_ids)}")
    _bulk(plan_table, [{"code": f"gen-{c:05d}", "title": f"示例县{c:05d}义务教育优质均衡发展实施方案（示例数据）",
                        "issuer": f"示例县{c:05d}人民政府", "doc_number": "", "issued_on": date(2023, 3, 1),
                        "preamble": "", "extra": {"sample": True}, "imported_at": now} for c in range(sizes.counties)])
    plan_ids = dict(db.session.execute(select(Plan.code, Plan.id).where(Plan.code.like("gen-%"))).all())
    section_rows, seen = [], set()
    for c in range(sizes.counties):
        pid = plan_ids[f"gen-{c:05d}"]
        for snum, stitle, _, _ in measures_ref:
            if (pid, snum) not in seen:
                seen.add((pid, snum))
                section_rows.append({"plan_id": pid, "number": snum, "position": len(seen), "title": stitle, "extra": {}})
    _bulk(Section.__table__, section_rows)
    section_ids = {(p, n): i for i, p, n in db.session.execute(
        select(Section.id, Section.plan_id, Section.number).where(Section.plan_id.in_(select(Plan.id).where(Plan.code.like("gen-%")))))}
    measure_rows = [{"plan_id": plan_ids[f"gen-{c:05d}"], "section_id": section_ids[(plan_ids[f"gen-{c:05d}"], snum)],
                     "number": mnum, "position": i, "title": mtitle, "text": "", "deadline": None, "groups": [],
                     "indicators": [], "extra": {}}
                    for c in range(sizes.counties) for i, (snum, _, mnum, mtitle) in enumerate(measures_ref)]
    _bulk(Measure.__table__, measure_rows)
    measure_ids = db.session.execute(select(Measure.id, Measure.plan_id).where(
        Measure.plan_id.in_(select(Plan.id).where(Plan.code.like("gen-%")))).order_by(Measure.id)).all()
    progress(f"measures: {len(measure_ids)}")
    plan_to_county = {pid: int(code[4:]) for code, pid in plan_ids.items()}
    link_rows, task_rows = [], []
    statuses = ["assigned"] * 25 + ["in_progress"] * 40 + ["submitted"] * 10 + ["completed"] * 20 + ["returned"] * 5
    for mid, pid in measure_ids:
        c = plan_to_county[pid]
        code = f"G{c:05d}"
        owners = [unit_ids[code]] + [unit_ids[f"{code}-D{d:02d}"] for d in rnd.sample(range(len(DEPARTMENTS)), sizes.units_per_measure - 1)]
        target_year = 2025 + (c % 9)
        for pos, uid in enumerate(owners):
            link_rows.append({"measure_id": mid, "unit_id": uid, "position": pos, "is_lead": pos == 0, "via_group": None})
            deadline = date(target_year, 12, 31) if pos == 0 else date(today.year, 12, 31) - timedelta(days=rnd.randrange(0, 700))
            status = rnd.choice(statuses)
            task_rows.append({"plan_id": pid, "measure_id": mid, "unit_id": uid, "period": "", "start_date": date(2023, 3, 1),
                              "deadline": deadline, "deadline_source": "default", "status": status, "ladder": "normal",
                              "is_lead": pos == 0, "progress_percent": 100 if status == "completed" else rnd.randrange(0, 95, 5),
                              "last_progress_at": None if status == "assigned" else now - timedelta(days=rnd.randrange(1, 90)),
                              "completed_at": now if status == "completed" else None, "created_at": now, "updated_at": now,
                              "version": 1})
    _bulk(MeasureUnit.__table__, link_rows)
    _bulk(Task.__table__, task_rows)
    progress(f"tasks: {len(task_rows)}")
    del link_rows, task_rows
    event_rows = []
    chain = {"in_progress": ["accept"], "submitted": ["accept", "submit"], "returned": ["accept", "submit", "return"],
             "completed": ["accept", "submit", "verify"]}
    path = {"accept": ("assigned", "in_progress"), "submit": ("in_progress", "submitted"),
            "return": ("submitted", "returned"), "verify": ("submitted", "completed")}
    gen_plans = select(Plan.id).where(Plan.code.like("gen-%"))
    for tid, status in db.session.execute(select(Task.id, Task.status).where(Task.plan_id.in_(gen_plans))):
        for step, event in enumerate(chain.get(status, [])):
            frm, to = path[event]
            event_rows.append({"task_id": tid, "actor_id": None, "event": event, "from_status": frm, "to_status": to,
                               "from_ladder": None, "to_ladder": None, "comment": "", "data": {},
                               "created_at": now - timedelta(days=60 - step * 10)})
        if len(event_rows) >= 50_000:
            _bulk(TaskEvent.__table__, event_rows)
            event_rows = []
    _bulk(TaskEvent.__table__, event_rows)
    progress("task histories written")
    schools = _generate_schools(sizes, rnd, unit_ids, today, now, progress)
    db.session.flush()
    return {"counties": sizes.counties, "units": len(unit_ids), "plans": len(plan_ids), "measures": len(measure_ids),
            "tasks": db.session.query(Task).filter(Task.plan_id.in_(gen_plans)).count(), "schools": schools,
            "years": sizes.years}


def _generate_schools(sizes: Sizes, rnd: random.Random, unit_ids: dict, today: date, now: datetime, progress) -> int:
    from tracker.indicators.models import School, SchoolYear

    school_rows = []
    for s in range(sizes.schools):
        county = f"G{s % sizes.counties:05d}"
        school_rows.append({"code": f"S{s:07d}", "name": f"示例学校{s:07d}", "unit_id": unit_ids[county],
                            "school_type": SCHOOL_TYPES[rnd.randrange(len(SCHOOL_TYPES))], "created_at": now, "updated_at": now})
    _bulk(School.__table__, school_rows)
    ids = db.session.execute(select(School.id, School.unit_id, School.school_type, School.name)
                             .where(School.code.like("S%")).order_by(School.id)).all()
    progress(f"schools: {len(ids)}")
    first_year = today.year - sizes.years
    rows = []
    for year in range(first_year, first_year + sizes.years):
        for sid, uid, stype, name in ids:
            # a 完全中学 teaches junior and senior high only; a 初中 junior only
            primary = 0 if stype in ("初中", "完全中学") else rnd.randint(30 if stype == "教学点" else 150, 60 if stype == "教学点" else 1800)
            junior = rnd.randint(200, 1500) if stype in ("初中", "九年一贯制", "完全中学") else 0
            senior = rnd.randint(300, 1200) if stype == "完全中学" else None
            pupils = primary + junior + (senior or 0)
            scale = rnd.uniform(0.8, 1.3)
            rows.append({"school_id": sid, "unit_id": uid, "year": year, "import_id": None, "name": name, "school_type": stype,
                         "primary_pupils": primary, "junior_pupils": junior, "senior_pupils": senior,
                         "qualified_teachers": round(pupils * 0.05 * scale), "backbone_teachers": round(pupils * 0.012 * scale),
                         "pe_art_teachers": round(pupils * 0.011 * scale), "building_area": round(pupils * 5.5 * scale),
                         "sports_area": round(pupils * 9 * scale), "equipment_value": round(pupils * 2600 * scale),
                         "multimedia_rooms": round(pupils * 0.026 * scale), "class_count": max(1, pupils // 45),
                         "max_class_size": rnd.randint(30, 55), "max_class_size_primary": None, "max_class_size_junior": None})
            if len(rows) >= 50_000:
                _bulk(SchoolYear.__table__, rows)
                rows = []
    _bulk(SchoolYear.__table__, rows)
    progress(f"school-years: {len(ids) * sizes.years}")
    return len(ids)
