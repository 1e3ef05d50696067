"""Yearly school data (学校年度数据): read .xlsx / .csv with Chinese headers, validate every row, import in bulk.

All or nothing: every row is checked first and each problem is reported as (row, column, value, what is
wrong); if there is any problem nothing is written. A county's data for the year is replaced as a whole.
The writes are set-based: one query for the counties, one for the schools already registered, one
DELETE for the replaced county-years and bulk INSERTs — never a query per row.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from sqlalchemy import delete, insert, select, update

from tracker.clock import today, utcnow
from tracker.extensions import db
from tracker.indicators.models import School, SchoolDataImport, SchoolYear
from tracker.units.models import Unit

SHEET = "学校数据"  # i18n: data
#: school types a file may use (职业学校 are not compulsory-education schools)
IMPORT_TYPES = ("小学", "初中", "九年一贯制", "完全中学", "十二年一贯制", "教学点", "特殊教育")  # i18n: data
SENIOR_TYPES = ("完全中学", "十二年一贯制")  # i18n: data
MAX_ROWS = 50_000


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str  # year | code | text | county | type | int | num
    required: bool = True
    #: header as written in the template (with the unit); the bare header is what is matched
    label: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """What the column holds, in the reader's language (the header itself is the file format)."""
        return str(TITLES.get(self.key, self.header))


COLUMNS = (
    Column("year", "年度", "year", aliases=("数据年度", "统计年度", "年份")),  # i18n: data
    Column("code", "学校代码", "code", aliases=("学校标识码", "学校编码")),  # i18n: data
    Column("name", "学校名称", "text", aliases=("学校",)),  # i18n: data
    Column("county", "县市", "county", aliases=("县", "县区", "县市区", "所属县市", "县（市）", "县(市)")),  # i18n: data
    Column("school_type", "学校类型", "type", aliases=("办学类型",)),  # i18n: data
    Column("primary_pupils", "小学在校生数", "int", label="小学在校生数（人）"),  # i18n: data
    Column("junior_pupils", "初中在校生数", "int", label="初中在校生数（人）"),  # i18n: data
    Column("senior_pupils", "高中在校生数", "int", required=False, label="高中在校生数（人，完全中学/十二年一贯制填写）"),  # i18n: data
    Column("qualified_teachers", "高于规定学历教师数", "int", label="高于规定学历教师数（人）"),  # i18n: data
    Column("backbone_teachers", "县级及以上骨干教师数", "int", label="县级及以上骨干教师数（人）"),  # i18n: data
    Column("pe_art_teachers", "体育艺术专任教师数", "int", label="体育艺术专任教师数（人）",  # i18n: data
           aliases=("体育、艺术专任教师数", "体育艺术（美术、音乐）专任教师数")),  # i18n: data
    Column("building_area", "教学及辅助用房面积", "num", label="教学及辅助用房面积（平方米）"),  # i18n: data
    Column("sports_area", "体育运动场馆面积", "num", label="体育运动场馆面积（平方米）"),  # i18n: data
    Column("equipment_value", "教学仪器设备值", "num", label="教学仪器设备值（元）"),  # i18n: data
    Column("multimedia_rooms", "网络多媒体教室数", "int", label="网络多媒体教室数（间）"),  # i18n: data
    Column("class_count", "班级数", "int", label="班级数（个）"),  # i18n: data
    Column("max_class_size", "最大班额", "int", label="最大班额（人）"),  # i18n: data
    Column("max_class_size_primary", "小学最大班额", "int", required=False, label="小学最大班额（人，跨学段学校可填）"),  # i18n: data
    Column("max_class_size_junior", "初中最大班额", "int", required=False, label="初中最大班额（人，跨学段学校可填）"),  # i18n: data
)
BY_KEY = {c.key: c for c in COLUMNS}
#: the columns' meaning for the reader; in Chinese each is the header itself
TITLES = {
    "year": _l("年度"), "code": _l("学校代码"), "name": _l("学校名称"), "county": _l("县市"),
    "school_type": _l("学校类型"), "primary_pupils": _l("小学在校生数"), "junior_pupils": _l("初中在校生数"),
    "senior_pupils": _l("高中在校生数"), "qualified_teachers": _l("高于规定学历教师数"),
    "backbone_teachers": _l("县级及以上骨干教师数"), "pe_art_teachers": _l("体育艺术专任教师数"),
    "building_area": _l("教学及辅助用房面积"), "sports_area": _l("体育运动场馆面积"),
    "equipment_value": _l("教学仪器设备值"), "multimedia_rooms": _l("网络多媒体教室数"), "class_count": _l("班级数"),
    "max_class_size": _l("最大班额"), "max_class_size_primary": _l("小学最大班额"),
    "max_class_size_junior": _l("初中最大班额"),
}
NUMERIC_KEYS = tuple(c.key for c in COLUMNS if c.kind in ("int", "num"))

EXAMPLE_ROW = {
    "year": 2025, "code": "5323010001", "name": "楚雄市示例小学（示例行，请删除）", "county": "楚雄市",  # i18n: data
    "school_type": "小学", "primary_pupils": 1200, "junior_pupils": 0, "senior_pupils": None,  # i18n: data
    "qualified_teachers": 60, "backbone_teachers": 15, "pe_art_teachers": 13, "building_area": 6000,
    "sports_area": 10000, "equipment_value": 2_600_000, "multimedia_rooms": 30, "class_count": 27,
    "max_class_size": 45, "max_class_size_primary": None, "max_class_size_junior": None,
}


@dataclass(frozen=True)
class RowError:
    """One problem: the file row (1 = header row; None for the whole file), the column, the value, why."""

    row: int | None
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        if self.row:
            where = (_("第%(row)s行“%(column)s”列", row=self.row, column=self.column) if self.column
                     else _("第%(row)s行", row=self.row))
        else:
            where = _("文件“%(column)s”列", column=self.column) if self.column else _("文件")
        val = _("（值：%(value)s）", value=self.value) if self.value not in ("", None) else ""
        return _("%(where)s%(value)s：%(message)s", where=where, value=val, message=self.message)


class SchoolDataInvalid(ValueError):
    """The file was refused; `problems` lists every error. Nothing was imported."""

    def __init__(self, problems: list[RowError]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def to_list(self) -> list[dict]:
        return [asdict(p) for p in self.problems]


# ── reading ─────────────────────────────────────────────────────────────────────────────────
def _norm_header(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    text = re.sub(r"\s+", "", text)
    return text


def _bare(header: str) -> str:
    """'教学及辅助用房面积(平方米)' → '教学及辅助用房面积' (NFKC made the brackets ASCII)."""
    return re.sub(r"\([^()]*\)$", "", header) or header


_HEADER_INDEX: dict[str, str] = {}
for _c in COLUMNS:
    for _name in (_c.header, *_c.aliases):
        _HEADER_INDEX[_norm_header(_name)] = _c.key


def _column_key(header: str) -> str | None:
    return _HEADER_INDEX.get(header) or _HEADER_INDEX.get(_bare(header))


def read_table(data: bytes, filename: str) -> tuple[int, list[str], list[tuple[int, list[Any]]]]:
    """(header row number, headers, [(row number, cells)]) of an .xlsx or .csv file."""
    ext = Path(filename or "").suffix.lower()
    if ext == ".csv":
        return _table_rows(_csv_rows(data))
    if ext in (".xlsx", ".xlsm"):
        return _table_rows(_xlsx_rows(data))
    if ext in (".xls", ".et"):
        raise SchoolDataInvalid([RowError(None, "", filename, _("不支持旧版 Excel 97-2003 (.xls) 文件，请另存为 .xlsx 后上传。"))])
    raise SchoolDataInvalid([RowError(None, "", filename, _("只能导入 .xlsx 或 .csv 文件。"))])


def _xlsx_rows(data: bytes) -> Iterable[tuple[int, list[Any]]]:
    not_xlsx = RowError(None, "", "", _("文件不是有效的 Excel (.xlsx) 文件，可能已损坏或只是改了扩展名。"))
    if not data.startswith(b"PK\x03\x04"):
        raise SchoolDataInvalid([not_xlsx])
    try:
        # read-only: each sheet's XML is streamed, no Cell object is kept per cell; formulas visible
        # (data_only=False): a formula cell is refused, never evaluated or passed on
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 — zip/XML errors of every kind mean the same to the user
        raise SchoolDataInvalid([not_xlsx]) from None
    try:
        target = wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]
        rows: list[tuple[int, list[Any]]] = []
        problems: list[str] = []
        for ws in wb.worksheets:  # the checks of tracker.spreadsheets.check_workbook, sheet by sheet
            values = _plain_values(ws)
            if values is None:  # something to look at cell by cell: the exact checks, with their messages
                if _checked_sheet(ws, problems, rows if ws is target else None):
                    break
            elif ws is target:
                rows = values
    except SchoolDataInvalid:
        raise
    except Exception:  # noqa: BLE001 — a damaged part shows only when it is read
        raise SchoolDataInvalid([not_xlsx]) from None
    finally:
        wb.close()
    if problems:
        raise SchoolDataInvalid([RowError(None, "", "", p) for p in problems])
    return rows


_FORMULA_TYPES = ("ArrayFormula", "DataTableFormula")


def _plain_values(ws) -> list[tuple[int, list[Any]]] | None:
    """The sheet's rows of values in one fast pass, or None when a cell may be refused by check_cell.

    With data_only=False a formula cell's value is a text starting with "=" (or a formula object), so a
    sheet without such texts, without over-long texts and within the row limit has nothing to refuse.
    """
    from tracker.spreadsheets import MAX_CELL_CHARS
    from tracker.spreadsheets import MAX_ROWS as SHEET_ROWS

    if (ws.max_row or 0) > SHEET_ROWS:
        return None
    out = []
    for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
        if n > SHEET_ROWS:
            return None
        for value in row:
            kind = type(value)
            if kind is str:
                if value[:1] == "=" or len(value) > MAX_CELL_CHARS:
                    return None
            elif kind.__name__ in _FORMULA_TYPES:
                return None
        out.append((n, list(row)))
    return out


def _checked_sheet(ws, problems: list[str], rows: list | None, max_problems: int = 20) -> bool:
    """Refuse formula cells, over-long texts and too many rows of a read-only sheet, collecting the sheet's
    values into `rows` when given; True once `max_problems` problems are found (stop reading)."""
    from tracker.spreadsheets import MAX_CELL_CHARS, SpreadsheetRefused, check_cell, check_rows, where
    from tracker.spreadsheets import MAX_ROWS as SHEET_ROWS

    try:
        check_rows(ws.max_row or 0, ws.title)
    except SpreadsheetRefused as exc:
        problems.append(str(exc))
        return len(problems) >= max_problems
    for n, cells in enumerate(ws.iter_rows(), start=1):
        if n > SHEET_ROWS:  # a file without its size in the sheet header: counted while reading
            try:
                check_rows(n, ws.title)
            except SpreadsheetRefused as exc:
                problems.append(str(exc))
            return len(problems) >= max_problems
        values = []
        for cell in cells:
            value = cell.value
            values.append(value)
            if value is None or not (cell.data_type == "f" or (isinstance(value, str) and len(value) > MAX_CELL_CHARS)
                                     or type(value).__name__ in _FORMULA_TYPES):
                continue  # what check_cell lets through, decided without building the place's name
            try:
                check_cell(value, cell.data_type, where(ws.title, n, cell.column))
            except SpreadsheetRefused as exc:
                problems.append(str(exc))
                if len(problems) >= max_problems:
                    return True
        if rows is not None:
            rows.append((n, values))
    return False


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GBK/GB18030 — the two encodings Excel and WPS save CSV in."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise SchoolDataInvalid([RowError(None, "", "", _("CSV 文件的编码无法识别（应为 UTF-8 或 GBK）。"))]) from None


def _csv_rows(data: bytes) -> Iterable[tuple[int, list[Any]]]:
    text = decode_csv(data)
    try:
        return [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)]
    except csv.Error as exc:
        raise SchoolDataInvalid([RowError(None, "", "", _("CSV 文件格式有误：%(error)s", error=exc))]) from None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table_rows(rows: Iterable[tuple[int, list[Any]]]) -> tuple[int, list[str], list[tuple[int, list[Any]]]]:
    rows = list(rows)
    header_at = next((i for i, (_, cells) in enumerate(rows[:10])
                      if any(_column_key(_norm_header(c)) == "code" for c in cells)), None)
    if header_at is None:
        first = next(((n, cells) for n, cells in rows if any(not _blank(c) for c in cells)), (1, []))
        headers = [_norm_header(c) for c in first[1]]
        return first[0], headers, []
    header_row, cells = rows[header_at]
    headers = [_norm_header(c) for c in cells]
    body = [(n, list(c)) for n, c in rows[header_at + 1:] if any(not _blank(v) for v in c)]
    return header_row, headers, body


# ── validation ──────────────────────────────────────────────────────────────────────────────
@dataclass
class CleanRow:
    row: int
    values: dict[str, Any]
    unit: Unit


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _number(value: Any, integer: bool) -> tuple[float | int | None, str | None]:
    """(value, error message) of a numeric cell; blank → (None, None)."""
    kind = type(value)
    if kind is int and value >= 0:  # what a spreadsheet gives for most cells, decided at once
        return (value if integer else float(value)), None
    if kind is float and 0 <= value < _INF:
        if not integer:
            return value, None
        return (int(value), None) if value.is_integer() else (None, _("应为整数"))
    if _blank(value):
        return None, None
    if isinstance(value, bool):
        return None, _("不是数字")
    if isinstance(value, (int, float)):
        number = value
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "").replace(" ", "")
        if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text):
            return None, _("不是数字")
        number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        return None, _("不是数字")
    if number < 0:
        return None, _("不能为负数")
    if integer:
        if float(number) != int(number):
            return None, _("应为整数")
        return int(number), None
    return float(number), None


_INF = float("inf")


def _code(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip() if value is not None else ""


def county_index() -> dict[str, Unit]:
    """Every county by code, name and alias — one query."""
    index: dict[str, Unit] = {}
    for unit in db.session.scalars(select(Unit).where(Unit.kind == "county")):
        for key in (unit.code, unit.name, *(unit.aliases or [])):
            index[_norm_header(key)] = unit
    return index


def validate_year(year: Any) -> int:
    latest = today().year + 1
    try:
        value = int(str(year).strip().rstrip("年")) if year not in (None, "") else None  # i18n: data
    except ValueError:
        value = None
    if value is None:
        raise SchoolDataInvalid([RowError(None, BY_KEY["year"].header, _show(year), _("请指定数据年度（如 2025）。"))])
    if not 2000 <= value <= latest:
        raise SchoolDataInvalid([RowError(None, BY_KEY["year"].header, _show(year),
                                             _("数据年度应在 2000–%(latest)s 之间。", latest=latest))])
    return value


def validate_rows(header_row: int, headers: list[str], body: list[tuple[int, list[Any]]], year: int,
                  actor=None) -> list[CleanRow]:
    problems: list[RowError] = []
    positions: dict[str, int] = {}
    for i, header in enumerate(headers):
        key = _column_key(header) if header else None
        if key is None:
            continue  # extra columns (备注 …) are ignored
        if key in positions:
            problems.append(RowError(header_row, BY_KEY[key].header, header, _("列名重复")))
        positions.setdefault(key, i)
    for col in COLUMNS:
        if col.required and col.key not in positions:
            problems.append(RowError(header_row, col.header, "", _("缺少此列（请使用导入模板）")))
    if problems:
        raise SchoolDataInvalid(problems)
    if not body:
        raise SchoolDataInvalid([RowError(None, "", "", _("文件中没有数据行。"))])
    if len(body) > MAX_ROWS:
        raise SchoolDataInvalid([RowError(None, "", "", _("一次最多导入 %(num)s 行。", num=MAX_ROWS))])

    counties = county_index()
    own_unit_id = None
    if actor is not None and actor.has_role("unit"):
        own_unit_id = actor.unit_id
    clean: list[CleanRow] = []
    first_seen: dict[str, int] = {}
    for n, cells in body:
        def cell(key: str) -> Any:
            i = positions.get(key)
            return cells[i] if i is not None and i < len(cells) else None

        errors: list[RowError] = []

        def err(key: str, message: str, value: Any = None) -> None:
            errors.append(RowError(n, BY_KEY[key].header if key in BY_KEY else key,
                                   _show(cell(key) if value is None and key in BY_KEY else value), message))

        values: dict[str, Any] = {}
        raw_year = cell("year")
        if _blank(raw_year):
            err("year", _("缺少年度"))
        else:
            text = _code(raw_year).rstrip("年")  # i18n: data
            if not text.isdigit() or int(text) != year:
                err("year", _("年度与导入年度 %(year)s 不符", year=year))
        code = _code(cell("code"))
        if not code:
            err("code", _("缺少学校代码"))
        elif not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z_-]{0,31}", code):
            err("code", _("学校代码只能包含字母、数字、- _，最长 32 位"))
        elif code in first_seen:
            err("code", _("学校代码与第%(row)s行重复", row=first_seen[code]))
        else:
            first_seen[code] = n
        values["code"] = code
        name = unicodedata.normalize("NFKC", _show(cell("name"))).strip()
        if not name:
            err("name", _("缺少学校名称"))
        elif len(name) > 200:
            err("name", _("学校名称不能超过 200 字"))
        values["name"] = name
        county_text = _show(cell("county"))
        unit = counties.get(_norm_header(county_text)) if county_text else None
        if not county_text:
            err("county", _("缺少县市"))
        elif unit is None:
            err("county", _("未知县市（应为系统中的县市名称或行政区划代码）"))
        elif own_unit_id is not None and unit.id != own_unit_id:
            err("county", _("只能上传本县市的学校数据"))
        school_type = _show(cell("school_type"))
        if not school_type:
            err("school_type", _("缺少学校类型"))
        elif school_type not in IMPORT_TYPES:
            err("school_type", _("学校类型应为：%(types)s", types=_("、").join(IMPORT_TYPES)))
        values["school_type"] = school_type
        for key in NUMERIC_KEYS:
            col = BY_KEY[key]
            number, problem = _number(cell(key), integer=col.kind == "int")
            if problem:
                err(key, problem)
            elif number is None and col.required:
                err(key, _("必填"))
            values[key] = number
        if not errors:
            _consistency(values, err)
        if errors:
            problems.extend(errors)
        else:
            clean.append(CleanRow(n, values, unit))
    if problems:
        raise SchoolDataInvalid(problems)
    return clean


def _consistency(v: dict[str, Any], err) -> None:
    """Rules between columns of one row (the engine would refuse these schools later)."""
    t, primary, junior, senior = v["school_type"], v["primary_pupils"], v["junior_pupils"], v["senior_pupils"]
    if primary + junior == 0:
        err("primary_pupils", _("小学和初中在校生数均为0：义务教育学校应有在校生"))
    if t in ("小学", "教学点") and junior:  # i18n: data
        err("junior_pupils", _("%(type)s不应有初中在校生", type=t))
    if t in ("初中", "完全中学") and primary:  # i18n: data
        err("primary_pupils", _("%(type)s不应有小学在校生", type=t))
    if t in SENIOR_TYPES and senior is None:
        err("senior_pupils", _("%(type)s须填写高中在校生数（没有高中学生填0）", type=t))
    if t not in SENIOR_TYPES and senior:
        err("senior_pupils", _("只有完全中学、十二年一贯制学校可填写高中在校生数"))
    if primary + junior > 0 and v["class_count"] == 0:
        err("class_count", _("有在校生的学校班级数应大于0"))
    if primary + junior > 0 and v["max_class_size"] == 0:
        err("max_class_size", _("有在校生的学校最大班额应大于0"))


# ── import ──────────────────────────────────────────────────────────────────────────────────
def import_school_data(data: bytes, filename: str, year: Any, actor=None, *, sample: bool = False) -> dict:
    """Validate the whole file, then replace the data of `year` for every county in it. Flushes, never commits.

    `actor` None means the command line (acting as the administrator); a county unit user may only
    upload rows of its own county; other roles than admin and county users are refused.
    """
    from tracker.errors import Forbidden

    if actor is not None and not (actor.has_role("admin") or (actor.has_role("unit") and actor.unit is not None
                                                              and actor.unit.kind_value == "county")):
        raise Forbidden(_("只有系统管理员和县市经办人可以导入学校数据。"))
    year = validate_year(year)
    header_row, headers, body = read_table(data, filename)
    rows = validate_rows(header_row, headers, body, year, actor)

    codes = [r.values["code"] for r in rows]
    registered: dict[str, Any] = {}
    known = select(School.id, School.code, School.unit_id, School.name, School.school_type)
    if db.session.get_bind().dialect.name == "postgresql":  # one array parameter, not thousands of IN items
        from sqlalchemy import String, any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        lookups = [known.where(School.code == any_(bindparam("codes", codes, type_=ARRAY(String))))]
    else:
        lookups = [known.where(School.code.in_(chunk)) for chunk in _chunks(codes, 5000)]
    for lookup in lookups:
        for rec in db.session.execute(lookup):
            registered[rec.code] = rec
    moved = [RowError(r.row, BY_KEY["code"].header, r.values["code"],
                      _("该学校已登记在其他县市，不能登记到%(county)s", county=r.unit.name))
             for r in rows if r.values["code"] in registered and registered[r.values["code"]].unit_id != r.unit.id]
    if moved:
        raise SchoolDataInvalid(moved)

    now = utcnow()
    unit_ids = sorted({r.unit.id for r in rows})
    db.session.execute(delete(SchoolYear).where(SchoolYear.unit_id.in_(unit_ids), SchoolYear.year == year)
                       .execution_options(synchronize_session=False))
    new = [r for r in rows if r.values["code"] not in registered]
    ids = {code: rec.id for code, rec in registered.items()}
    if new:
        for rec in _bulk_insert(School.__table__, [
                {"code": r.values["code"], "name": r.values["name"], "unit_id": r.unit.id,
                 "school_type": r.values["school_type"], "created_at": now, "updated_at": now} for r in new],
                returning=("id", "code")):
            ids[rec.code] = rec.id
    changed = [{"id": registered[r.values["code"]].id, "name": r.values["name"],
                "school_type": r.values["school_type"], "updated_at": now}
               for r in rows if r.values["code"] in registered
               and (registered[r.values["code"]].name, registered[r.values["code"]].school_type)
               != (r.values["name"], r.values["school_type"])]
    if changed and _is_latest_year(year, unit_ids):
        db.session.execute(update(School), changed)
    record = SchoolDataImport(year=year, filename=(filename or "")[-255:], sha256=hashlib.sha256(data).hexdigest(),
                              rows=len(rows), counties=sorted({r.unit.code for r in rows}), sample=sample,
                              actor_id=getattr(actor, "id", None), created_at=now)
    db.session.add(record)
    db.session.flush()
    _bulk_insert(SchoolYear.__table__, [
        {"school_id": ids[r.values["code"]], "unit_id": r.unit.id, "year": year, "import_id": record.id,
         **{k: r.values[k] for k in ("name", "school_type", *NUMERIC_KEYS)}}
        for r in rows])
    per_county: dict[int, dict] = {}
    for r in rows:
        entry = per_county.setdefault(r.unit.id, {"code": r.unit.code, "name": r.unit.name, "schools": 0})
        entry["schools"] += 1
    return {"year": year, "rows": len(rows), "schools": len(set(codes)), "new_schools": len(new),
            "counties": sorted(per_county.values(), key=lambda c: c["code"]), "import_id": record.id,
            "unit_ids": unit_ids}


def _bulk_insert(table, rows: list[dict[str, Any]], returning: tuple[str, ...] = (), key: str = "code") -> list:
    """INSERT every row (dicts with the same keys); returns the `returning` columns of the rows inserted.

    PostgreSQL: one ``COPY … FROM STDIN`` (the driver formats the rows in C; an executemany or an
    ``INSERT … SELECT unnest(arrays)`` of 10,000 rows spends ~10× longer building and parsing SQL), then,
    if asked, one SELECT of the new rows by their unique `key` column.
    SQLite: an executemany of the Core insert (the table, not the ORM entity: no per-row ORM work).
    """
    if not rows:
        return []
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        stmt = insert(table)
        if returning:
            return list(db.session.execute(stmt.returning(*(table.c[c] for c in returning)), rows))
        db.session.execute(stmt, rows)
        return []
    from sqlalchemy import Float, Integer

    names = list(rows[0])
    quote = connection.dialect.identifier_preparer.quote
    # COPY parses text: a whole number given for a float column is fine, 5.0 for an integer column is not
    ints = [i for i, n in enumerate(names) if isinstance(table.c[n].type, Integer)]
    floats = [i for i, n in enumerate(names) if isinstance(table.c[n].type, Float)]
    sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            values = [row[n] for n in names]
            for i in ints:
                if values[i] is not None:
                    values[i] = int(values[i])
            for i in floats:
                if values[i] is not None:
                    values[i] = float(values[i])
            copy.write_row(values)
    if not returning:
        return []
    from sqlalchemy import String, any_, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    keys = bindparam("keys", [row[key] for row in rows], type_=ARRAY(String))
    return list(db.session.execute(select(*(table.c[c] for c in returning)).where(table.c[key] == any_(keys))))


def _is_latest_year(year: int, unit_ids: list[int]) -> bool:
    """The register keeps a school's latest name and type: an older year's file does not overwrite them."""
    from sqlalchemy import func

    newest = db.session.scalar(select(func.max(SchoolYear.year)).where(SchoolYear.unit_id.in_(unit_ids)))
    return newest is None or year >= newest


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


# ── template ────────────────────────────────────────────────────────────────────────────────
def template_workbook(year: int | None = None) -> bytes:
    """The import template: one sheet with the headers, one example row and a sheet of notes."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append([c.label or c.header for c in COLUMNS])
    example = dict(EXAMPLE_ROW, year=year or EXAMPLE_ROW["year"])
    ws.append([example[c.key] for c in COLUMNS])
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[1]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for i, col in enumerate(COLUMNS, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(10, min(28, len(col.label or col.header) * 2))
    ws.column_dimensions["B"].width = 14
    ws.cell(2, 2).number_format = "@"
    ws.freeze_panes = "A2"
    notes = wb.create_sheet(_("填表说明"))
    notes.append([_("列"), _("说明")])
    explain = {
        "year": _("数据年度，四位数，须与导入时选择的年度一致"),
        "code": _("学校代码（学校标识码），在全系统唯一；请设为文本格式以免丢失前导零"),
        "county": _("县市名称或行政区划代码，如 楚雄市 或 532301"),
        "school_type": _("、").join(IMPORT_TYPES),
        "senior_pupils": _("仅完全中学、十二年一贯制学校填写（没有高中学生填0）"),
        "max_class_size_primary": _("可选：跨学段学校分学段填报最大班额，否则按全校最大班额判断"),
        "max_class_size_junior": _("可选：同上"),
    }
    for col in COLUMNS:
        need = _("必填") if col.required else _("选填")
        default = _("非负数（整数）") if col.kind == "int" else _("非负数") if col.kind == "num" else ""
        text = explain.get(col.key, default)
        text = _("%(need)s。%(text)s", need=need, text=text) if text else need
        if col.title != col.header:  # in another language than Chinese: say what the column holds
            text = _("%(title)s：%(text)s", title=col.title, text=text)
        notes.append([col.header, text])
    notes.append(["", _("第2行为示例，导入前请删除。一次导入可含多个县市；重新导入某年度数据将整体替换该县市该年度的数据。")])
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["B"].width = 80
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def write_rows_xlsx(rows: list[dict[str, Any]]) -> bytes:
    """A workbook in the template's layout holding `rows` (dicts keyed by column key) — used by the demo."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append([c.label or c.header for c in COLUMNS])
    for row in rows:
        ws.append([row.get(c.key) for c in COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

