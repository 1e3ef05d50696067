"""Plan files: xlsx round trip, and every kind of bad input stops the import with nothing changed."""
from __future__ import annotations

import json

import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import CHUXIONG
from tracker.models import Measure, Plan, Task, Unit
from tracker.plans.operations import export_spec, import_plan, known_unit_specs
from tracker.plans.planfile import read_plan_file, write_plan_file
from tracker.plans.spec import PlanFileError, spec_to_dict


def _snapshot(db) -> tuple:
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Plan, Measure, Task, Unit))


def _write(tmp_path, data, name="plan.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("plan_file", ["chuxiong-2023.yaml", "wanzhou-2022.yaml"])
def test_round_trip_yaml_db_xlsx_db(db, tmp_path, plan_file):
    first_import = import_plan(read_plan_file(CHUXIONG.parent / plan_file))
    db.session.commit()
    plan = db.session.get(Plan, first_import["plan_id"])
    first = spec_to_dict(export_spec(plan))
    xlsx = tmp_path / "任务分解表.xlsx"
    write_plan_file(export_spec(plan), xlsx)
    wb = load_workbook(xlsx)
    header = [c.value for c in wb["任务分解表"][1]]
    assert header[:7] == ["序号", "部分", "措施", "内容", "牵头单位", "责任单位", "完成时限"]
    assert wb["任务分解表"].max_row == 1 + first_import["measures"]
    if plan_file.startswith("chuxiong"):
        row2 = [c.value for c in wb["任务分解表"][2]]
        assert row2[0] == "（一）" and row2[4] == "州教育体育局" and "各县市人民政府" in row2[5]
    # wipe the plan and import the spreadsheet: the same plan comes back, nothing lost
    for model in (Task, Measure, Plan):
        db.session.query(model).delete()
    db.session.commit()
    result = import_plan(read_plan_file(xlsx, known_units=known_unit_specs()))
    db.session.commit()
    assert result["tasks"] == first_import["tasks"]
    again = spec_to_dict(export_spec(db.session.get(Plan, result["plan_id"])))
    assert json.dumps(again, sort_keys=True, default=str) == json.dumps(first, sort_keys=True, default=str)
    # and the YAML export reads back to the same mapping too
    write_plan_file(export_spec(db.session.get(Plan, result["plan_id"])), tmp_path / "back.yaml")
    assert json.dumps(spec_to_dict(read_plan_file(tmp_path / "back.yaml")), sort_keys=True, default=str) == \
        json.dumps(first, sort_keys=True, default=str)


def test_plain_task_sheet_uses_known_units(chuxiong, db, tmp_path):
    """A clerk's own 任务分解表 with only the seven columns imports against units already known."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "任务分解表"
    ws.append(["序号", "部分", "措施", "内容", "牵头单位", "责任单位", "完成时限"])
    ws.append(["（一）", "一、总体要求", "摸清底数", "建立台账", "州教育体育局", "州财政局、各县市人民政府", "2027-06-30"])
    path = tmp_path / "clerk-2027.xlsx"
    wb.save(path)
    result = import_plan(read_plan_file(path, known_units=known_unit_specs()))
    db.session.commit()
    assert (result["sections"], result["measures"], result["tasks"]) == (1, 1, 12)
    deadlines = set(db.session.scalars(select(Task.deadline).where(Task.plan_id == result["plan_id"])))
    assert {d.isoformat() for d in deadlines} == {"2027-06-30"}


def _chuxiong_data():
    return yaml.safe_load(CHUXIONG.read_text(encoding="utf-8"))


@pytest.mark.parametrize("mutate, needles", [
    (lambda d: d["sections"][1]["measures"][0].pop("title"), ["第", "title", "缺少必填内容"]),
    (lambda d: d["sections"][2]["measures"][1]["units"].append("州不存在局"), ["州不存在局", "未知责任单位"]),
    (lambda d: d["sections"][3]["measures"][0].__setitem__("number", "一"), ["措施编号“一”重复"]),
    (lambda d: d["sections"][0]["measures"][0].__setitem__("deadline", "2025-13-45"), ["deadline", "2025-13-45"]),
    (lambda d: d["milestones"][0].__setitem__("min_share", 20), ["min_share", "0 到 1"]),
    (lambda d: d.pop("sections"), ["sections"]),
])
def test_bad_yaml_names_file_line_field_and_changes_nothing(app, db, tmp_path, chuxiong, mutate, needles):
    data = _chuxiong_data()
    mutate(data)
    path = _write(tmp_path, data, "bad-plan.yaml")
    before = _snapshot(db)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["plan", "import", str(path)])
    assert out.exit_code != 0
    assert "bad-plan.yaml" in out.output
    for needle in needles:
        assert needle in out.output
    db.session.rollback()
    assert _snapshot(db) == before


def test_yaml_syntax_error_names_line(tmp_path, db):
    path = tmp_path / "broken.yaml"
    path.write_text("plan:\n  code: x\n  title: [unclosed\nsections: []\n", encoding="utf-8")
    with pytest.raises(PlanFileError) as err:
        read_plan_file(path)
    assert "broken.yaml" in str(err.value) and "行" in str(err.value)


def test_xlsx_missing_column_and_bad_date(chuxiong, db, tmp_path, app):
    path = tmp_path / "export.xlsx"
    write_plan_file(export_spec(db.session.scalar(select(Plan))), path)
    wb = load_workbook(path)
    ws = wb["任务分解表"]
    ws.delete_cols(7)  # 完成时限
    wb.save(tmp_path / "no-deadline-col.xlsx")
    out = app.test_cli_runner().invoke(args=["plan", "import", str(tmp_path / "no-deadline-col.xlsx")])
    assert out.exit_code != 0 and "缺少列" in out.output and "完成时限" in out.output

    wb = load_workbook(path)
    wb["任务分解表"]["G5"] = "明年"
    wb.save(tmp_path / "bad-date.xlsx")
    before = _snapshot(db)
    out = app.test_cli_runner().invoke(args=["plan", "import", str(tmp_path / "bad-date.xlsx")])
    assert out.exit_code != 0 and "第5行" in out.output and "完成时限" in out.output and "明年" in out.output
    db.session.rollback()
    assert _snapshot(db) == before


def test_not_an_xlsx(tmp_path, app, db):
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b"%PDF-1.4 not a workbook")
    out = app.test_cli_runner().invoke(args=["plan", "import", str(path)])
    assert out.exit_code != 0 and "不是有效的 .xlsx" in out.output


def test_unit_code_clash_rolls_back_everything(chuxiong, db, tmp_path, app):
    data = _chuxiong_data()
    data["plan"]["code"] = "another-plan"
    data["units"]["departments"][0]["code"] = "OTHER"  # 州教育体育局 under a new code
    path = _write(tmp_path, data)
    before = _snapshot(db)
    out = app.test_cli_runner().invoke(args=["plan", "import", str(path)])
    assert out.exit_code != 0 and "州教育体育局" in out.output
    db.session.rollback()
    assert _snapshot(db) == before
    assert db.session.scalar(select(Plan).where(Plan.code == "another-plan")) is None
