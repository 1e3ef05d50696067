"""示例数据 — a generated, clearly-marked SAMPLE dataset of schools for the 10 Chuxiong counties, 2024 and 2025.

Deterministic (seeded): the same files every run. Not real data: every school name carries “示例”,
the imports are flagged `sample` and every page showing them says so. Designed outcomes:

- 楚雄市, 禄丰市 pass both years (their sample target year is 2025); 牟定县 fails 2024 (teacher pay,
  G8) and passes 2025; 南华县 passes 2024 and SLIPS in 2025 (an enrolment surge leaves two schools
  short of floor space and sports ground: R4/R5 below 85 %);
- the others fail both years, for different reasons: a school below the 85 % floor, an inter-school
  CV over its limit, a one-vote veto (重点班), an education-quality item (Q1), an oversized class (G5).
  No indicator that passed in 2024 fails in 2025 except in 南华县, so 南华县 is the only slippage.

The files are written in the import template's layout and imported through the normal importer;
county-level entries are entered through the normal operation, then every county is evaluated.
"""
from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from tracker.cli_utils import UserError
from tracker.extensions import db
from tracker.indicators import operations as ops
from tracker.indicators import store
from tracker.indicators.catalog import Catalog
from tracker.indicators.engine import RESOURCE_MEASURES
from tracker.indicators.schooldata import write_rows_xlsx
from tracker.units.models import Unit

SEED = 20251231
YEARS = (2024, 2025)
NOTE = "示例数据"  # i18n: data
#: county code → outcome profile per year (see the module docstring)
PROFILES: dict[str, dict[int, str]] = {
    "532301": {2024: "pass", 2025: "pass"},           # 楚雄市
    "532302": {2024: "pass", 2025: "pass"},           # 禄丰市
    "532322": {2024: "floor", 2025: "floor"},         # 双柏县: schools below the 85 % floor
    "532323": {2024: "pay", 2025: "pass"},            # 牟定县: teacher pay (G8) in 2024, improves
    "532324": {2024: "pass", 2025: "slip"},           # 南华县: slips in 2025
    "532325": {2024: "cv", 2025: "cv"},               # 姚安县: inter-school CV of R5 over the limit
    "532326": {2024: "quality", 2025: "quality"},     # 大姚县: 初中巩固率 (Q1)
    "532327": {2024: "veto", 2025: "veto"},           # 永仁县: 重点班 (V3)
    "532328": {2024: "class", 2025: "class"},         # 元谋县: an oversized class (G5)
    "532329": {2024: "floor", 2025: "cv"},            # 武定县: floor, then CV
}
CN = "一二三四五六七八九十"  # i18n: data
CODE_TOTAL = {code: total for code, (total, _) in RESOURCE_MEASURES.items()}
COUNT_TOTALS = {"qualified_teachers", "backbone_teachers", "pe_art_teachers", "multimedia_rooms"}


def _short(name: str) -> str:
    return name[:-1] if name[-1] in "市县" else name  # i18n: data


def school_list(unit: Unit) -> list[dict[str, Any]]:
    """The county's sample schools (stable across years): 8–15 of mixed types."""
    rng = random.Random(f"{SEED}-{unit.code}")
    n_primary, n_junior = rng.randint(5, 9), rng.randint(2, 4)
    short = _short(unit.name)
    schools = [{"type": "小学", "name": f"{short}示例第{CN[i]}小学"} for i in range(n_primary)]  # i18n: data
    schools += [{"type": "初中", "name": f"{short}示例第{CN[i]}中学"} for i in range(n_junior)]  # i18n: data
    schools.append({"type": "九年一贯制", "name": f"{short}示例九年一贯制学校"})  # i18n: data
    schools.append({"type": "教学点", "name": f"{short}示例山村教学点"})  # i18n: data
    if unit.code in ("532301", "532302", "532326"):
        schools.append({"type": "特殊教育", "name": f"{short}示例特殊教育学校"})  # i18n: data
    if unit.code == "532301":
        schools.append({"type": "完全中学", "name": f"{short}示例完全中学"})  # i18n: data
    for i, s in enumerate(schools, start=1):
        s["code"] = f"{unit.code}{i:04d}"
        s["pupils"] = _pupils(rng, s["type"])
    return schools


def _pupils(rng: random.Random, school_type: str) -> dict[str, int]:
    if school_type == "小学":  # i18n: data
        return {"primary": rng.randint(280, 1400), "junior": 0, "senior": 0}
    if school_type == "初中":  # i18n: data
        return {"primary": 0, "junior": rng.randint(400, 1600), "senior": 0}
    if school_type == "九年一贯制":  # i18n: data
        return {"primary": rng.randint(300, 650), "junior": rng.randint(200, 450), "senior": 0}
    if school_type == "教学点":  # i18n: data
        return {"primary": rng.randint(18, 45), "junior": 0, "senior": 0}
    if school_type == "特殊教育":  # i18n: data
        return {"primary": rng.randint(40, 80), "junior": rng.randint(15, 40), "senior": 0}
    return {"primary": 0, "junior": rng.randint(600, 1100), "senior": rng.randint(800, 1400)}  # 完全中学


def _factors(rng: random.Random, schools: list[dict], profile: str) -> list[dict[str, float]]:
    """Per school, per indicator: the value as a multiple of its threshold."""
    factors = [{code: rng.uniform(1.06, 1.32) for code in CODE_TOTAL} for _ in schools]
    evaluated = [i for i, s in enumerate(schools)
                 if s["type"] in ("小学", "初中", "九年一贯制", "完全中学")]  # i18n: data
    if profile in ("floor", "slip"):
        for i in evaluated[:2]:  # two schools far below the 85 % floor on floor space and sports ground
            factors[i]["R4"], factors[i]["R5"] = rng.uniform(0.62, 0.74), rng.uniform(0.6, 0.72)
    if profile == "cv":  # sports ground: half just under the standard, half three times it
        for n, i in enumerate(evaluated):
            factors[i]["R5"] = 0.93 if n % 2 == 0 else 3.3
    return factors


def year_rows(unit: Unit, year: int, catalog: Catalog) -> list[dict[str, Any]]:
    """The rows of the county's sample file for one year, in the importer's column keys."""
    profile = PROFILES[unit.code][year]
    rng = random.Random(f"{SEED}-{unit.code}-{year}")
    schools = school_list(unit)
    if year != YEARS[0]:
        for s in schools:  # enrolment moves a little from year to year
            s["pupils"] = {lvl: round(n * rng.uniform(0.95, 1.06)) for lvl, n in s["pupils"].items()}
    factors = _factors(rng, schools, profile)
    weights = catalog.rules.split_weights
    rows = []
    for s, f in zip(schools, factors):
        p = s["pupils"]
        levels = {"小学": {"primary": 1.0}, "教学点": {"primary": 1.0}, "初中": {"junior": 1.0},  # i18n: data
                  "特殊教育": {"primary": 1.0, "junior": 1.0}}.get(s["type"]) or weights[s["type"]]  # i18n: data
        weighted = sum(p[lvl] * w for lvl, w in levels.items())
        row = {"year": year, "code": s["code"], "name": s["name"], "county": unit.name, "school_type": s["type"],
               "primary_pupils": p["primary"], "junior_pupils": p["junior"],
               "senior_pupils": p["senior"] if s["type"] == "完全中学" else None}  # i18n: data
        for code, total in CODE_TOTAL.items():
            ind = catalog.by_code[code]
            # shared totals are split by pupils × weight, so one rate per weighted pupil serves every level
            rate = max(ind.thresholds[lvl] / w for lvl, w in levels.items() if lvl in ind.thresholds)
            per = RESOURCE_MEASURES[code][1]
            value = f[code] * rate * weighted / per
            row[total] = math.ceil(value) if total in COUNT_TOTALS else round(math.ceil(value * 10) / 10, 1)
        compulsory = p["primary"] + p["junior"]
        cap = 45 if p["primary"] else 50
        row["max_class_size"] = min(rng.randint(cap - 8, cap), compulsory)
        if profile == "class" and s is schools[0]:
            row["max_class_size"] = 58  # 大班额
        row["class_count"] = max(1, math.ceil(compulsory / max(row["max_class_size"] - 4, 1)))
        if s["type"] == "完全中学":  # i18n: data
            row["class_count"] += math.ceil(p["senior"] / 48)
        rows.append(row)
    return rows


def entries(unit: Unit, year: int) -> dict[str, Any]:
    """County-level values: all met, except what the profile makes fail."""
    rng = random.Random(f"{SEED}-{unit.code}-{year}-entries")
    values: dict[str, Any] = {
        "G1": True, "G2": True, "G3": True, "G6": True, "G7": rng.randrange(6000, 7600, 100),
        "G8": round(rng.uniform(100.5, 111), 1), "G9": 100, "G10": True, "G11a": round(rng.uniform(10.5, 17), 1),
        "G11b": round(rng.uniform(21, 34), 1), "G12": 100,
        "G13": {"primary": 100, "junior": round(rng.uniform(95.5, 100), 1)}, "G14": round(rng.uniform(51, 64), 1),
        "G15": round(rng.uniform(86, 97), 1), "Q1": round(rng.uniform(95.5, 99.2), 1),
        "Q2": round(rng.uniform(95.5, 99), 1), "Q3": True, "Q4": True, "Q5": True, "Q6": True, "Q7": True, "Q8": True,
        "Q9a": rng.choice([3, 4]), "Q9b": round(rng.uniform(0.07, 0.14), 2), "S1": round(rng.uniform(86, 95), 1),
        "V1": False, "V2": False, "V3": False, "V4": False, "V5": False, "V6": False,
    }
    profile = PROFILES[unit.code][year]
    if profile == "pay":
        values["G8"] = 96.4
    elif profile == "quality":
        values["Q1"] = 93.8
    elif profile == "veto":
        values["V3"] = True
    return values


def _complete_linked_task(unit: Unit, measure_number: str, year: int) -> int | None:
    """Walk one linked task through the real lifecycle (示例): so that the 2025 slip visibly reopens it.

    Needs the demo accounts (`flask demo setup`); skipped when they are missing or the task has moved.
    """
    from tracker.auth.models import User
    from tracker.plans.models import Measure
    from tracker.tasks import operations as task_ops
    from tracker.tasks.models import Task

    task = db.session.scalar(select(Task).join(Task.measure).where(Task.unit_id == unit.id,
                                                                   Measure.number == measure_number))
    owner = db.session.scalar(select(User).where(User.unit_id == unit.id, User.active.is_(True)).order_by(User.id))
    supervisor = db.session.scalar(select(User).where(User.role == "supervisor", User.active.is_(True)).order_by(User.id))
    if task is None or owner is None or supervisor is None or task.status != "assigned":
        return None
    task_ops.fire(task, "accept", owner)
    task_ops.report_progress(task, owner, 100, f"（示例）{year}年标准化学校建设完成，各校办学条件达到标准。")  # i18n: data
    ops.attach_evaluation(task, owner)
    task_ops.fire(task, "submit", owner)
    task_ops.fire(task, "verify", supervisor, comment=f"（示例）{year}年评估关联指标达标，同意办结。")  # i18n: data
    return task.id


def run(folder: Path) -> dict[str, Any]:
    """Write the two sample files, import them, enter the county values and evaluate 2024 then 2025."""
    counties = list(db.session.scalars(select(Unit).where(Unit.kind == "county", Unit.code.in_(list(PROFILES)))
                                       .order_by(Unit.code)))
    if len(counties) != len(PROFILES):
        raise UserError(_("示例学校数据需要楚雄州的10个县市，请先运行 flask --app wsgi demo setup（导入楚雄州方案）。"))
    catalog = store.current_catalog()
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for year in YEARS:
        rows = [row for unit in counties for row in year_rows(unit, year, catalog)]
        path = folder / f"schools-{year}.xlsx"
        path.write_bytes(write_rows_xlsx(rows))
        ops.import_schools(path.read_bytes(), f"{NOTE}-{path.name}", year, None, sample=True)
        files[year] = str(path)
        for unit in counties:
            for code, value in entries(unit, year).items():
                ops.set_entry(unit, year, code, value, NOTE, None, evaluate_after=False, catalog=catalog)
    verdicts: dict[str, dict[int, bool]] = {u.code: {} for u in counties}
    completed = None
    for year in YEARS:
        for unit in counties:
            verdicts[unit.code][year] = ops.evaluate(unit, year, catalog=catalog).passed
        if year == YEARS[0]:
            completed = _complete_linked_task(db.session.get(Unit, next(u.id for u in counties if u.code == "532324")),
                                              "六", year)  # i18n: data
    return {
        "sample": True, "files": files, "completed_task": completed,
        "counties": [{"code": u.code, "county": u.name, "pass": verdicts[u.code],
                      "slipped": verdicts[u.code][YEARS[0]] and not verdicts[u.code][YEARS[-1]]} for u in counties],
    }
