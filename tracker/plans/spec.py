"""The plan file format, as plain data: parsing and validating it, whether it came from YAML or .xlsx.

A plan file is a mapping (see README "方案文件格式"). Both readers (YAML and the Excel 任务分解表)
build the same dict, with a ``__loc__`` entry on each mapping telling where it came from
("第12行" or "任务分解表 第5行"), so one validator names the file, place and field of every error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import ngettext

LOC = "__loc__"
DEPARTMENT_LIST = "departments"


class PlanFileError(ValueError):
    """Every problem found in one plan file; the import changes nothing when this is raised."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {problems[0]}" if len(problems) == 1 else
                         ngettext("%(source)s: 发现 %(num)d 处错误：", "%(source)s: 发现 %(num)d 处错误：", len(problems),
                                  source=source) + "\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass
class UnitSpec:
    code: str
    name: str
    kind: str  # department | county
    group_list: str  # the list under `units:` it came from (departments, counties, towns …)
    aliases: list[str] = field(default_factory=list)


@dataclass
class MeasureSpec:
    number: str
    title: str
    text: str
    units: list[str]  # names or unit-group phrases, lead first
    deadline: date | None = None
    indicators: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    loc: str = ""


@dataclass
class SectionSpec:
    number: str
    title: str
    measures: list[MeasureSpec]
    extra: dict = field(default_factory=dict)


@dataclass
class MilestoneSpec:
    due: date
    min_share: float | None
    text: str
    extra: dict = field(default_factory=dict)


@dataclass
class PlanSpec:
    code: str
    title: str
    issuer: str = ""
    doc_number: str = ""
    issued_on: date | None = None
    preamble: str = ""
    extra: dict = field(default_factory=dict)
    units: list[UnitSpec] = field(default_factory=list)
    unit_groups: dict[str, str] = field(default_factory=dict)
    #: the names of the unit lists under `units:`, in order, even when a list is empty
    unit_lists: list[str] = field(default_factory=list)
    default_units: list[str] = field(default_factory=list)
    schedule: dict[str, int] = field(default_factory=dict)  # county name → target year
    schedule_sample: bool = False
    schedule_note: str = ""
    milestones: list[MilestoneSpec] = field(default_factory=list)
    sections: list[SectionSpec] = field(default_factory=list)

    @property
    def measures(self) -> list[MeasureSpec]:
        return [m for s in self.sections for m in s.measures]


PLAN_KNOWN = {"code", "title", "issuer", "doc_number", "issued_on", "preamble", "default_units"}
SECTION_KNOWN = {"number", "title", "measures", LOC}
MEASURE_KNOWN = {"number", "title", "text", "units", "deadline", "indicators", LOC}


class _Checker:
    """Collects problems with their location instead of stopping at the first."""

    def __init__(self):
        self.problems: list[str] = []

    def add(self, loc: str, fieldname: str, message: str) -> None:
        self.problems.append(_("%(place)s，字段“%(field)s”：%(problem)s", place=loc, field=fieldname, problem=message)
                             if loc else _("字段“%(field)s”：%(problem)s", field=fieldname, problem=message))

    def text(self, mapping: dict, key: str, loc: str, *, required=True, label=None) -> str:
        value = mapping.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(loc, label or key, _("缺少必填内容"))
            return ""
        if isinstance(value, (dict, list)):
            self.add(loc, label or key, _("应为文字"))
            return ""
        return str(value).strip()

    def date(self, mapping: dict, key: str, loc: str, *, required=False) -> date | None:
        value = mapping.get(key)
        if value in (None, ""):
            if required:
                self.add(loc, key, _("缺少日期"))
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.add(loc, key, _("日期“%(value)s”无法识别，应写作 2025-12-31", value=value))
        return parsed


def parse_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)  # i18n: data (2025年12月31日 in a file)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    return None


def split_units(text: str) -> list[str]:
    """'州教育体育局、州财政局，各县市人民政府' → the names in order."""
    return [p for p in (s.strip() for s in re.split(r"[、，,；;\n]+", text or "")) if p]  # i18n: data (separators in a file)


def parse_plan(data, source: str) -> PlanSpec:
    """Validate a plan mapping and return its PlanSpec, or raise PlanFileError listing every problem."""
    chk = _Checker()
    if not isinstance(data, dict):
        raise PlanFileError(source, [_("文件内容不是一个方案（顶层应为键值结构）")])
    plan_map = data.get("plan")
    if not isinstance(plan_map, dict):
        raise PlanFileError(source, [_("缺少“plan”部分（方案编号、名称等）")])
    ploc = plan_map.get(LOC, "")
    spec = PlanSpec(
        code=chk.text(plan_map, "code", ploc),
        title=chk.text(plan_map, "title", ploc),
        issuer=chk.text(plan_map, "issuer", ploc, required=False),
        doc_number=chk.text(plan_map, "doc_number", ploc, required=False),
        issued_on=chk.date(plan_map, "issued_on", ploc),
        preamble=chk.text(plan_map, "preamble", ploc, required=False),
    )
    if spec.code and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", spec.code):
        chk.add(ploc, "code", _("方案编号“%(code)s”只能包含字母、数字、-、_、.", code=spec.code))
    spec.extra = {k: v for k, v in plan_map.items() if k not in PLAN_KNOWN and k != LOC}
    spec.default_units = _str_list(chk, plan_map, "default_units", ploc)

    _parse_units(chk, data, spec)
    _parse_groups(chk, data, spec)
    _parse_schedule(chk, data, spec)
    _parse_milestones(chk, data, spec)
    _parse_sections(chk, data, spec)
    extra_top = {k: v for k, v in data.items()
                 if k not in {"plan", "units", "unit_groups", "county_schedule", "milestones", "sections", LOC}}
    if extra_top:
        spec.extra["_top"] = strip_locs(extra_top)
    if chk.problems:
        raise PlanFileError(source, chk.problems)
    return spec


def _str_list(chk: _Checker, mapping: dict, key: str, loc: str) -> list[str]:
    value = mapping.get(key) or []
    if isinstance(value, str):
        return split_units(value)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        chk.add(loc, key, _("应为名称列表"))
        return []
    return [str(v).strip() for v in value]


def _parse_units(chk: _Checker, data: dict, spec: PlanSpec) -> None:
    units = data.get("units") or {}
    if not isinstance(units, dict):
        chk.add(data.get(LOC, ""), "units", _("应为按类别分组的单位列表（departments / counties …）"))
        return
    seen_codes: dict[str, str] = {}
    seen_names: dict[str, str] = {}
    for list_name, entries in units.items():
        if list_name == LOC:
            continue
        kind = "department" if list_name == DEPARTMENT_LIST else "county"
        spec.unit_lists.append(str(list_name))
        for i, entry in enumerate(entries or []):
            loc = entry.get(LOC, f"units.{list_name}[{i + 1}]") if isinstance(entry, dict) else f"units.{list_name}[{i + 1}]"
            if not isinstance(entry, dict):
                chk.add(loc, "units", _("每个单位应写作 {code: …, name: …}"))
                continue
            code, name = chk.text(entry, "code", loc), chk.text(entry, "name", loc)
            if not code or not name:
                continue
            if code in seen_codes:
                chk.add(loc, "code", _("单位代码“%(code)s”重复（已用于“%(name)s”）", code=code, name=seen_codes[code]))
            if name in seen_names:
                chk.add(loc, "name", _("单位名称“%(name)s”重复", name=name))
            seen_codes[code], seen_names[name] = name, code
            aliases = _str_list(chk, entry, "aliases", loc)
            spec.units.append(UnitSpec(code=code, name=name, kind=kind, group_list=list_name, aliases=aliases))


def _parse_groups(chk: _Checker, data: dict, spec: PlanSpec) -> None:
    groups = data.get("unit_groups") or {}
    lists = {k for k in (data.get("units") or {}) if k != LOC} if isinstance(data.get("units"), dict) else set()
    for phrase, target in groups.items():
        if phrase == LOC:
            continue
        if target not in lists:
            chk.add(groups.get(LOC, ""), f"unit_groups.{phrase}", _("指向的单位列表“%(target)s”在 units 中不存在", target=target))
        spec.unit_groups[str(phrase)] = str(target)


def _parse_schedule(chk: _Checker, data: dict, spec: PlanSpec) -> None:
    sched = data.get("county_schedule") or {}
    if not sched:
        return
    loc = sched.get(LOC, "")
    spec.schedule_sample = bool(sched.get("sample", False))
    spec.schedule_note = str(sched.get("note") or "")
    names = {u.name for u in spec.units} | {a for u in spec.units for a in u.aliases}
    for name, year in (sched.get("target_years") or {}).items():
        if name == LOC:
            continue
        if name not in names:
            chk.add(loc, f"county_schedule.{name}", _("未知单位“%(name)s”（不在 units 中）", name=name))
        if not isinstance(year, int) or not 2000 <= year <= 2100:
            chk.add(loc, f"county_schedule.{name}", _("年份“%(year)s”无效，应为四位年份", year=year))
            continue
        spec.schedule[name] = year


def _parse_milestones(chk: _Checker, data: dict, spec: PlanSpec) -> None:
    for i, m in enumerate(data.get("milestones") or []):
        loc = m.get(LOC, f"milestones[{i + 1}]") if isinstance(m, dict) else f"milestones[{i + 1}]"
        if not isinstance(m, dict):
            chk.add(loc, "milestones", _("每个目标节点应写作 {due: …, min_share: …, text: …}"))
            continue
        due = chk.date(m, "due", loc, required=True)
        share = m.get("min_share")
        if share not in (None, ""):
            try:
                share = float(share)
                if not 0 <= share <= 1:
                    raise ValueError
            except (TypeError, ValueError):
                chk.add(loc, "min_share", _("比例“%(value)s”无效，应为 0 到 1 之间的小数（20%% 写作 0.2）", value=share))
                share = None
        else:
            share = None
        if due:
            extra = strip_locs({k: v for k, v in m.items() if k not in {"due", "min_share", "text"}})
            spec.milestones.append(MilestoneSpec(due=due, min_share=share, text=str(m.get("text") or ""), extra=extra))


def _parse_sections(chk: _Checker, data: dict, spec: PlanSpec) -> None:
    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        chk.add(data.get(LOC, ""), "sections", _("缺少部分与措施（sections）"))
        return
    known = {u.name for u in spec.units} | {a for u in spec.units for a in u.aliases} | set(spec.unit_groups)
    for name in spec.default_units:
        if name not in known:
            chk.add("plan", "default_units", _("未知责任单位“%(name)s”", name=name))
    numbers_seen: dict[str, str] = {}
    section_numbers: set[str] = set()
    for si, sec in enumerate(sections):
        sloc = sec.get(LOC, f"sections[{si + 1}]") if isinstance(sec, dict) else f"sections[{si + 1}]"
        if not isinstance(sec, dict):
            chk.add(sloc, "sections", _("每个部分应包含 number、title、measures"))
            continue
        snum, stitle = chk.text(sec, "number", sloc), chk.text(sec, "title", sloc)
        if snum in section_numbers:
            chk.add(sloc, "number", _("部分编号“%(number)s”重复", number=snum))
        section_numbers.add(snum)
        section = SectionSpec(number=snum, title=stitle, measures=[],
                              extra=strip_locs({k: v for k, v in sec.items() if k not in SECTION_KNOWN}))
        for mi, m in enumerate(sec.get("measures") or []):
            mloc = m.get(LOC, f"{sloc} measures[{mi + 1}]") if isinstance(m, dict) else f"{sloc} measures[{mi + 1}]"
            if not isinstance(m, dict):
                chk.add(mloc, "measures", _("每条措施应包含 number、title、text、units"))
                continue
            number = chk.text(m, "number", mloc)
            if number and number in numbers_seen:
                chk.add(mloc, "number", _("措施编号“%(number)s”重复（%(place)s已使用）", number=number, place=numbers_seen[number]))
            numbers_seen.setdefault(number, mloc)
            units = _str_list(chk, m, "units", mloc) if "units" in m else list(spec.default_units)
            if not units:
                chk.add(mloc, "units", _("缺少责任单位"))
            for name in units:
                if name not in known:
                    chk.add(mloc, "units", _("未知责任单位“%(name)s”（请先在 units 中列出）", name=name))
            indicators = _str_list(chk, m, "indicators", mloc)
            section.measures.append(MeasureSpec(
                number=number, title=chk.text(m, "title", mloc), text=chk.text(m, "text", mloc, required=False),
                units=units, deadline=chk.date(m, "deadline", mloc), indicators=indicators,
                extra=strip_locs({k: v for k, v in m.items() if k not in MEASURE_KNOWN}), loc=mloc,
            ))
            _check_targets(chk, section.measures[-1], mloc)
        spec.sections.append(section)


def _check_targets(chk: _Checker, measure: MeasureSpec, loc: str) -> None:
    for t in measure.extra.get("targets") or []:
        if not isinstance(t, dict) or parse_date(t.get("due")) is None:
            chk.add(loc, "targets", _("目标日期“%(value)s”无法识别", value=t.get("due") if isinstance(t, dict) else t))


def strip_locs(value):
    """Remove the location markers the readers add; everything else is kept as is."""
    if isinstance(value, dict):
        return {k: strip_locs(v) for k, v in value.items() if k != LOC}
    if isinstance(value, list):
        return [strip_locs(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def measure_deadline(m: MeasureSpec) -> date | None:
    """An explicit deadline, else the latest dated target of the measure."""
    if m.deadline:
        return m.deadline
    dues = [parse_date(t.get("due")) for t in m.extra.get("targets") or [] if isinstance(t, dict)]
    dues = [d for d in dues if d]
    return max(dues) if dues else None


def spec_to_dict(spec: PlanSpec) -> dict:
    """The plan file mapping for a PlanSpec (what the YAML export writes)."""
    plan = {"code": spec.code, "title": spec.title}
    for key in ("issuer", "doc_number", "preamble"):
        if getattr(spec, key):
            plan[key] = getattr(spec, key)
    if spec.issued_on:
        plan["issued_on"] = spec.issued_on
    if spec.default_units:
        plan["default_units"] = list(spec.default_units)
    top = dict(spec.extra.get("_top") or {})
    plan.update({k: v for k, v in spec.extra.items() if k != "_top"})
    out: dict = {"plan": plan}
    if spec.milestones:
        out["milestones"] = [{"due": m.due, **({"min_share": m.min_share} if m.min_share is not None else {}),
                              "text": m.text, **m.extra} for m in spec.milestones]
    units: dict[str, list] = {name: [] for name in spec.unit_lists}
    for u in spec.units:
        entry = {"code": u.code, "name": u.name}
        if u.aliases:
            entry["aliases"] = list(u.aliases)
        units.setdefault(u.group_list, []).append(entry)
    out["units"] = units
    if spec.unit_groups:
        out["unit_groups"] = dict(spec.unit_groups)
    if spec.schedule:
        sched: dict = {"sample": spec.schedule_sample}
        if spec.schedule_note:
            sched["note"] = spec.schedule_note
        sched["target_years"] = dict(spec.schedule)
        out["county_schedule"] = sched
    out["sections"] = []
    for s in spec.sections:
        sec = {"number": s.number, "title": s.title, **s.extra, "measures": []}
        for m in s.measures:
            entry = {"number": m.number, "title": m.title, "text": m.text, "units": list(m.units)}
            if m.deadline:
                entry["deadline"] = m.deadline
            if m.indicators:
                entry["indicators"] = list(m.indicators)
            entry.update(m.extra)
            sec["measures"].append(entry)
        out["sections"].append(sec)
    out.update(top)
    return out
