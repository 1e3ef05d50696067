"""The Excel form of a plan: the 任务分解表 sheet (one row per measure) plus sheets for the rest.

Sheet 任务分解表 — 序号, 部分, 措施, 内容, 牵头单位, 责任单位, 完成时限 (required columns), and
optional 关联指标, 其他. Sheets 方案信息, 责任单位, 单位分组, 目标节点 carry what a round trip needs;
a clerk's own sheet with only 任务分解表 imports too, its units then must already be known.
"""
from __future__ import annotations

import json
import re
import zipfile
from datetime import date
from pathlib import Path

from flask_babel import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils.exceptions import InvalidFileException

from tracker.plans.spec import LOC, PlanFileError, PlanSpec, UnitSpec, parse_date, split_units, spec_to_dict
from tracker.spreadsheets import check_workbook

TASK_SHEET = "任务分解表"  # i18n: data
TASK_COLUMNS = ["序号", "部分", "措施", "内容", "牵头单位", "责任单位", "完成时限"]  # i18n: data
OPTIONAL_COLUMNS = ["关联指标", "其他"]  # i18n: data
INFO_SHEET, UNIT_SHEET, GROUP_SHEET, MILESTONE_SHEET = "方案信息", "责任单位", "单位分组", "目标节点"  # i18n: data
INFO_FIELDS = [("code", "方案编号"), ("title", "方案名称"), ("issuer", "发文单位"), ("doc_number", "文号"),  # i18n: data
               ("issued_on", "印发日期"), ("preamble", "前言"), ("default_units", "默认责任单位"),  # i18n: data
               ("schedule_sample", "进度表为示例数据"), ("schedule_note", "进度表说明"), ("extra", "其他")]  # i18n: data
UNIT_COLUMNS = ["代码", "名称", "类别", "别名", "目标年份"]  # i18n: data
CN_NUMERALS = "零一二三四五六七八九十"  # i18n: data


def _numbered(number: str, title: str) -> str:
    return f"{number}、{title}"  # i18n: data


def _measure_label(number: str) -> str:
    return f"（{number}）" if number and number[0] in CN_NUMERALS else number  # i18n: data


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def write_plan_workbook(spec: PlanSpec, path: Path) -> None:
    data = spec_to_dict(spec)
    wb = Workbook()
    ws = wb.active
    ws.title = TASK_SHEET
    header = TASK_COLUMNS + OPTIONAL_COLUMNS
    ws.append(header)
    for sec in spec.sections:
        for m in sec.measures:
            extra = dict(m.extra)
            other = {"section": sec.extra} if sec.extra else {}
            if extra:
                other["measure"] = extra
            ws.append([
                _measure_label(m.number), _numbered(sec.number, sec.title), m.title, m.text,
                m.units[0] if m.units else "", "、".join(m.units[1:]), m.deadline,  # i18n: data
                "、".join(m.indicators), json.dumps(other, ensure_ascii=False, default=str) if other else "",  # i18n: data
            ])
    _style(ws, [8, 30, 24, 80, 18, 40, 12, 12, 20])
    for row in ws.iter_rows(min_row=2, min_col=7, max_col=7):
        for cell in row:
            cell.number_format = "yyyy-mm-dd"

    info = wb.create_sheet(INFO_SHEET)
    info.append(["项目", "内容"])  # i18n: data
    plan = data["plan"]
    values = {
        "code": spec.code, "title": spec.title, "issuer": spec.issuer, "doc_number": spec.doc_number,
        "issued_on": spec.issued_on.isoformat() if spec.issued_on else "", "preamble": spec.preamble,
        "default_units": "、".join(spec.default_units), "schedule_sample": "是" if spec.schedule_sample else "否",  # i18n: data
        "schedule_note": spec.schedule_note,
        "extra": json.dumps({k: v for k, v in plan.items() if k not in dict(INFO_FIELDS)} | (
            {"_top": spec.extra["_top"]} if spec.extra.get("_top") else {}), ensure_ascii=False, default=str),
    }
    for key, label in INFO_FIELDS:
        info.append([label, values[key]])
    _style(info, [18, 100])

    units = wb.create_sheet(UNIT_SHEET)
    units.append(UNIT_COLUMNS)
    for u in spec.units:
        units.append([u.code, u.name, u.group_list, "、".join(u.aliases), spec.schedule.get(u.name)])  # i18n: data
    _style(units, [12, 28, 14, 20, 10])

    groups = wb.create_sheet(GROUP_SHEET)
    groups.append(["分组名称", "单位类别"])  # i18n: data
    for phrase, target in spec.unit_groups.items():
        groups.append([phrase, target])
    _style(groups, [24, 14])

    ms = wb.create_sheet(MILESTONE_SHEET)
    ms.append(["完成时限", "达标比例", "内容", "其他"])  # i18n: data
    for m in spec.milestones:
        ms.append([m.due, m.min_share, m.text, json.dumps(m.extra, ensure_ascii=False, default=str) if m.extra else ""])
    _style(ms, [12, 10, 80, 20])
    for row in ms.iter_rows(min_row=2, max_col=1):
        for cell in row:
            cell.number_format = "yyyy-mm-dd"
    wb.save(path)


def _style(ws, widths: list[int]) -> None:
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":  # text that merely starts with "=" stays text, never a formula
                cell.data_type = "s"
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    ws.freeze_panes = "A2"
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _open(path: Path):
    """Open with formulas visible (data_only=False) and refuse any: an imported plan holds values only
    (tracker.spreadsheets: no formula cells, bounded rows and cell lengths)."""
    try:
        wb = load_workbook(path, data_only=False, read_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError):
        raise PlanFileError(path.name, [_("不是有效的 .xlsx 文件")]) from None
    problems = check_workbook(wb)
    if problems:
        raise PlanFileError(path.name, problems)
    return wb


def _getter(row: tuple, idx: dict[str, int]):
    """A cell reader for one row by column name; a missing column reads as empty."""
    return lambda col: row[idx[col]] if col in idx and idx[col] < len(row) else None


def _header_index(ws, required: list[str], source: str) -> dict[str, int]:
    header = [_cell_text(c.value) for c in next(ws.iter_rows(min_row=1, max_row=1))]
    index = {name: i for i, name in enumerate(header) if name}
    missing = [c for c in required if c not in index]
    if missing:
        raise PlanFileError(source, [_("工作表“%(sheet)s”第1行缺少列：%(columns)s", sheet=ws.title,
                                       columns=_("、").join(missing))])
    return index


def read_plan_workbook(path: Path, default_code: str = "", known_units: list[UnitSpec] | None = None) -> dict:
    """Read the workbook into the plan-file mapping (see spec.parse_plan), noting rows for errors.

    A sheet without the 责任单位 sheet names units already in the system (``known_units``);
    "各县市人民政府" then means every county unit.
    """
    source = path.name
    wb = _open(path)
    if TASK_SHEET not in wb.sheetnames:
        raise PlanFileError(source, [_("缺少工作表“%(sheet)s”", sheet=TASK_SHEET)])
    ws = wb[TASK_SHEET]
    idx = _header_index(ws, TASK_COLUMNS, source)
    plan: dict = {LOC: _("工作表“%(sheet)s”", sheet=INFO_SHEET)}
    data: dict = {"plan": plan, "sections": []}
    problems: list[str] = []
    if INFO_SHEET in wb.sheetnames:
        _read_info(wb[INFO_SHEET], plan, data, problems)
    else:
        plan.setdefault("code", re.sub(r"[^A-Za-z0-9_.-]", "-", default_code) or "plan")
        plan.setdefault("title", default_code)
    if UNIT_SHEET in wb.sheetnames:
        _read_units(wb[UNIT_SHEET], data, source)
    else:
        data["units"] = {}
        for u in known_units or []:
            data["units"].setdefault(u.group_list, []).append({"code": u.code, "name": u.name, "aliases": u.aliases})
        if "counties" in data["units"] and GROUP_SHEET not in wb.sheetnames:
            data["unit_groups"] = {"各县市人民政府": "counties"}  # i18n: data
    if GROUP_SHEET in wb.sheetnames:
        data["unit_groups"] = {_cell_text(r[0]): _cell_text(r[1]) for r in wb[GROUP_SHEET].iter_rows(min_row=2, values_only=True) if r and _cell_text(r[0])}
        for target in data["unit_groups"].values():
            data["units"].setdefault(target, [])  # a group whose list is still empty (towns not yet named)
    if MILESTONE_SHEET in wb.sheetnames:
        data["milestones"] = [
            {LOC: _("工作表“%(sheet)s”第%(row)d行", sheet=MILESTONE_SHEET, row=n), "due": r[0], "min_share": r[1],
             "text": _cell_text(r[2]) if len(r) > 2 else "",
             **(json.loads(_cell_text(r[3])) if len(r) > 3 and _cell_text(r[3]) else {})}
            for n, r in enumerate(wb[MILESTONE_SHEET].iter_rows(min_row=2, values_only=True), start=2) if r and any(r)]
    sections: dict[str, dict] = {}
    for n, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
        if not row or not any(v not in (None, "") for v in row):
            continue
        loc = _("工作表“%(sheet)s”第%(row)d行", sheet=TASK_SHEET, row=n)
        get = _getter(row, idx)
        part = _cell_text(get("部分"))  # i18n: data
        m = re.match(r"^\s*([一二三四五六七八九十百零\d]+)\s*[、.．]\s*(.*)$", part)  # i18n: data
        snum, stitle = (m[1], m[2]) if m else (part, part)
        other = {}
        if _cell_text(get("其他")):  # i18n: data
            try:
                other = json.loads(_cell_text(get("其他")))  # i18n: data
            except json.JSONDecodeError:
                problems.append(_("%(place)s，字段“%(field)s”：%(problem)s", place=loc, problem=_("不是有效的 JSON"),
                                  field="其他"))  # i18n: data (the column's name)
        if snum not in sections:
            sections[snum] = {LOC: loc, "number": snum, "title": stitle, "measures": [], **(other.get("section") or {})}
            data["sections"].append(sections[snum])
        deadline = get("完成时限")  # i18n: data
        if deadline not in (None, "") and parse_date(deadline) is None:
            problems.append(_("%(place)s，字段“%(field)s”：%(problem)s", place=loc,
                              problem=_("日期“%(value)s”无法识别，应写作 2025-12-31", value=deadline),
                              field="完成时限"))  # i18n: data (the column's name)
        lead, rest = _cell_text(get("牵头单位")), split_units(_cell_text(get("责任单位")))  # i18n: data
        measure = {
            LOC: loc, "number": _cell_text(get("序号")).strip("（）()"), "title": _cell_text(get("措施")),  # i18n: data
            "text": _cell_text(get("内容")), "units": ([lead] if lead else []) + rest,  # i18n: data
            **({"deadline": deadline} if deadline not in (None, "") and parse_date(deadline) else {}),
            **({"indicators": split_units(_cell_text(get("关联指标")))} if _cell_text(get("关联指标")) else {}),  # i18n: data
            **(other.get("measure") or {}),
        }
        sections[snum]["measures"].append(measure)
    if problems:
        raise PlanFileError(source, problems)
    return data


def _read_info(ws, plan: dict, data: dict, problems: list[str]) -> None:
    labels = {label: key for key, label in INFO_FIELDS}
    for n, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
        if not row or _cell_text(row[0]) not in labels:
            continue
        key, value = labels[_cell_text(row[0])], row[1] if len(row) > 1 else None
        if key == "extra":
            try:
                extra = json.loads(_cell_text(value) or "{}")
            except json.JSONDecodeError:
                problems.append(_("%(place)s，字段“%(field)s”：%(problem)s",
                                  place=_("工作表“%(sheet)s”第%(row)d行", sheet=INFO_SHEET, row=n),
                                  problem=_("不是有效的 JSON"), field="其他"))  # i18n: data (the column's name)
                continue
            for k, v in (extra.pop("_top", None) or {}).items():
                data[k] = v
            plan.update(extra)
        elif key == "default_units":
            if _cell_text(value):
                plan[key] = split_units(_cell_text(value))
        elif key in ("schedule_sample", "schedule_note"):
            data.setdefault("county_schedule", {LOC: _("工作表“%(sheet)s”第%(row)d行", sheet=INFO_SHEET, row=n)})
            data["county_schedule"]["sample" if key == "schedule_sample" else "note"] = (
                _cell_text(value) in ("是", "true", "True", "1") if key == "schedule_sample" else _cell_text(value))  # i18n: data
        elif key == "issued_on":
            plan[key] = value if isinstance(value, date) else (_cell_text(value) or None)
        else:
            plan[key] = _cell_text(value)


def _read_units(ws, data: dict, source: str) -> None:
    idx = _header_index(ws, UNIT_COLUMNS[:3], source)
    units: dict[str, list] = {}
    years: dict = {}
    for n, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
        if not row or not any(row):
            continue
        get = _getter(row, idx)
        entry = {LOC: _("工作表“%(sheet)s”第%(row)d行", sheet=UNIT_SHEET, row=n),
                 "code": _cell_text(get("代码")), "name": _cell_text(get("名称"))}  # i18n: data
        if _cell_text(get("别名")):  # i18n: data
            entry["aliases"] = split_units(_cell_text(get("别名")))  # i18n: data
        units.setdefault(_cell_text(get("类别")) or "departments", []).append(entry)  # i18n: data
        year = get("目标年份")  # i18n: data
        if year not in (None, ""):
            years[entry["name"]] = int(year) if _cell_text(year).isdigit() else year
    data["units"] = units
    if years:
        data.setdefault("county_schedule", {LOC: _("工作表“%(sheet)s”", sheet=UNIT_SHEET)})["target_years"] = years
