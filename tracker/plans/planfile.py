"""Reading and writing plan files: YAML (hand-written by a clerk) and the Excel 任务分解表."""
from __future__ import annotations

from pathlib import Path

import yaml
from flask_babel import gettext as _

from tracker.plans import xlsx
from tracker.plans.spec import LOC, PlanFileError, PlanSpec, UnitSpec, parse_plan, spec_to_dict


class _LineLoader(yaml.SafeLoader):
    """A safe loader that notes the line of every mapping, so errors can name it."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping[LOC] = _("第%(line)d行", line=node.start_mark.line + 1)
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, source: str) -> PlanSpec:
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _("第%(line)d行第%(column)d列", line=mark.line + 1, column=mark.column + 1) if mark else ""
        raise PlanFileError(source, [_("%(place)s YAML 格式错误：%(problem)s", place=where,
                                       problem=getattr(exc, "problem", exc))]) from None
    return parse_plan(data, source)


def read_plan_file(path: str | Path, known_units: list[UnitSpec] | None = None) -> PlanSpec:
    """Parse a .yaml/.yml or .xlsx plan file; raises PlanFileError naming file, place and field."""
    path = Path(path)
    source = path.name
    if not path.exists():
        raise PlanFileError(source, [_("文件不存在")])
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise PlanFileError(source, [_("文件不是 UTF-8 编码的文本")]) from None
        return load_yaml(text, source)
    if suffix == ".xlsx":
        return parse_plan(xlsx.read_plan_workbook(path, default_code=path.stem, known_units=known_units), source)
    raise PlanFileError(source, [_("不支持的文件类型“%(suffix)s”：请使用 .yaml 或 .xlsx", suffix=suffix)])


def write_plan_file(spec: PlanSpec, path: str | Path) -> None:
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        xlsx.write_plan_workbook(spec, path)
    elif path.suffix.lower() in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(spec_to_dict(spec), allow_unicode=True, sort_keys=False, width=120),
                        encoding="utf-8")
    else:
        raise PlanFileError(path.name, [_("不支持的导出类型“%(suffix)s”：请使用 .xlsx 或 .yaml", suffix=path.suffix)])
