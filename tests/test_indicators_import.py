"""School data import: .xlsx and .csv (UTF-8 with/without BOM, GBK), all or nothing, errors by row and column."""
from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, func, select

from tests.helpers import unit_named
from tracker.extensions import db as _db
from tracker.indicators import operations as ops
from tracker.indicators.models import School, SchoolDataImport, SchoolYear
from tracker.indicators.schooldata import COLUMNS, SchoolDataInvalid, import_school_data, template_workbook, write_rows_xlsx

HEADERS = [c.header for c in COLUMNS]


def school(code: str, county: str = "楚雄市", school_type: str = "小学", primary: int = 500, junior: int = 0,
           year: int = 2025, **over) -> dict:
    """A row that meets every primary/junior threshold comfortably (totals scale with the pupils)."""
    pupils = primary + junior
    row = {"year": year, "code": code, "name": f"测试学校{code}", "county": county, "school_type": school_type,
           "primary_pupils": primary, "junior_pupils": junior, "senior_pupils": None,
           "qualified_teachers": round(pupils * 0.06), "backbone_teachers": round(pupils * 0.012),
           "pe_art_teachers": round(pupils * 0.01), "building_area": pupils * 6.0, "sports_area": pupils * 11.0,
           "equipment_value": pupils * 3000, "multimedia_rooms": round(pupils * 0.025), "class_count": max(1, pupils // 40),
           "max_class_size": 40, "max_class_size_primary": None, "max_class_size_junior": None}
    row.update(over)
    return row


def xlsx(rows: list[dict]) -> bytes:
    return write_rows_xlsx(rows)


def csv_bytes(rows: list[dict], encoding: str = "utf-8-sig", headers: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    headers = headers or HEADERS
    writer.writerow(headers)
    by_header = {c.header: c.key for c in COLUMNS}
    for row in rows:
        writer.writerow(["" if row.get(by_header.get(h, h)) is None else row.get(by_header.get(h, h)) for h in headers])
    return out.getvalue().encode(encoding)


def count(model) -> int:
    return _db.session.scalar(select(func.count()).select_from(model))


def problems_of(data: bytes, name: str, year=2025, actor=None) -> list:
    with pytest.raises(SchoolDataInvalid) as info:
        import_school_data(data, name, year, actor)
    _db.session.rollback()
    return info.value.problems


def only(problems, row, column):
    hits = [p for p in problems if p.row == row and p.column == column]
    assert hits, f"no problem at row {row}, column {column}: {[str(p) for p in problems]}"
    return hits[0]


# ── good files ──────────────────────────────────────────────────────────────────────────────
def test_xlsx_imports_every_row(db, chuxiong):
    rows = [school("5323010001"), school("5323010002", school_type="初中", primary=0, junior=800),
            school("5323020001", county="禄丰市", school_type="九年一贯制", primary=400, junior=300),
            school("5323010003", school_type="完全中学", primary=0, junior=600, senior_pupils=900)]
    result = ops.import_schools(xlsx(rows), "学校.xlsx", 2025)
    db.session.commit()
    assert result["rows"] == 4 and result["schools"] == 4 and result["new_schools"] == 4
    assert [c["name"] for c in result["counties"]] == ["楚雄市", "禄丰市"]
    assert count(School) == 4 and count(SchoolYear) == 4
    got = db.session.scalar(select(SchoolYear).join(School).where(School.code == "5323010003"))
    assert (got.school_type, got.junior_pupils, got.senior_pupils, got.equipment_value) == ("完全中学", 600, 900, 1_800_000)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_csv_in_utf8_with_or_without_bom_and_gbk(db, chuxiong, encoding):
    rows = [school("5323010001", name="鹿城小学"), school("5323220001", county="双柏县", name="妥甸中学",
                                                           school_type="初中", primary=0, junior=700)]
    data = csv_bytes(rows, encoding)
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    result = ops.import_schools(data, "学校.csv", 2025)
    db.session.commit()
    assert result["rows"] == 2
    names = set(db.session.scalars(select(SchoolYear.name)))
    assert names == {"鹿城小学", "妥甸中学"}


def test_headers_with_units_and_extra_columns_are_accepted(db, chuxiong):
    headers = [c.label or c.header for c in COLUMNS] + ["备注"]
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(headers)
    row = school("5323010001")
    w.writerow([("" if row[c.key] is None else row[c.key]) for c in COLUMNS] + ["无"])
    assert ops.import_schools(out.getvalue().encode("utf-8"), "a.csv", 2025)["rows"] == 1


def test_reimport_replaces_the_county_year_only(db, chuxiong):
    ops.import_schools(xlsx([school("5323010001"), school("5323010002"), school("5323010003"),
                             school("5323020001", county="禄丰市")]), "a.xlsx", 2025)
    ops.import_schools(xlsx([school("5323010001", year=2024)]), "old.xlsx", 2024)
    db.session.commit()
    result = ops.import_schools(xlsx([school("5323010002", primary=900), school("5323010009")]), "b.xlsx", 2025)
    db.session.commit()
    assert result["new_schools"] == 1
    chuxiong_2025 = db.session.execute(select(School.code, SchoolYear.primary_pupils).join(School)
                                       .where(SchoolYear.unit_id == unit_named("楚雄市").id, SchoolYear.year == 2025)
                                       .order_by(School.code)).all()
    assert chuxiong_2025 == [("5323010002", 900), ("5323010009", 500)]
    assert count(SchoolYear) == 4  # + 禄丰市 2025 and 楚雄市 2024, untouched
    assert count(SchoolDataImport) == 3


def test_template_has_the_headers_and_an_example_row(app, db, chuxiong, tmp_path):
    wb = load_workbook(io.BytesIO(template_workbook(2025)))
    ws = wb["学校数据"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["年度", "学校代码", "学校名称", "县市", "学校类型"]
    assert "教学及辅助用房面积（平方米）" in header and "网络多媒体教室数（间）" in header and "最大班额（人）" in header
    example = [c.value for c in ws[2]]
    assert example[0] == 2025 and example[3] == "楚雄市" and example[4] == "小学"
    # the example row itself imports
    assert ops.import_schools(template_workbook(2025), "模板.xlsx", 2025)["rows"] == 1
    db.session.rollback()
    target = tmp_path / "模板.xlsx"
    result = app.test_cli_runner().invoke(args=["schools", "template", str(target), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["columns"][:2] == ["年度", "学校代码"]
    assert load_workbook(target)["学校数据"]["B1"].value == "学校代码"


# ── bad files: the specific error, and nothing imported ─────────────────────────────────────
BAD_CASES = [
    ("unknown county", {"county": "昆明市"}, "县市", "未知县市"),
    ("negative", {"sports_area": -5}, "体育运动场馆面积", "不能为负数"),
    ("not a number", {"equipment_value": "很多"}, "教学仪器设备值", "不是数字"),
    ("not whole", {"qualified_teachers": 12.5}, "高于规定学历教师数", "应为整数"),
    ("zero pupils", {"primary_pupils": 0}, "小学在校生数", "均为0"),
    ("wrong year", {"year": 2024}, "年度", "不符"),
    ("absent year", {"year": None}, "年度", "缺少年度"),
    ("bad type", {"school_type": "幼儿园"}, "学校类型", "学校类型应为"),
    ("junior pupils in a 小学", {"junior_pupils": 30}, "初中在校生数", "不应有初中在校生"),
    ("完全中学 without senior pupils", {"school_type": "完全中学", "primary_pupils": 0, "junior_pupils": 500},
     "高中在校生数", "须填写高中在校生数"),
    ("missing required value", {"max_class_size": None}, "最大班额", "必填"),
]


@pytest.mark.parametrize("label, change, column, words", BAD_CASES, ids=[c[0] for c in BAD_CASES])
@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_each_bad_value_is_named_by_row_and_column(db, chuxiong, label, change, column, words, kind):
    ops.import_schools(xlsx([school("5323010001")]), "before.xlsx", 2025)
    db.session.commit()
    before = (count(School), count(SchoolYear))
    rows = [school("5323010002"), school("5323010003", **change), school("5323010004")]
    data = xlsx(rows) if kind == "xlsx" else csv_bytes(rows)
    problems = problems_of(data, f"bad.{kind}")
    hit = only(problems, 3, column)  # header is row 1, so the second data row is row 3
    assert words in hit.message
    assert len(problems) == 1, [str(p) for p in problems]
    assert (count(School), count(SchoolYear)) == before
    # the school of the first import kept its data (nothing was replaced)
    assert db.session.scalar(select(School.code).join(SchoolYear)) == "5323010001"


def test_duplicate_school_code_in_file(db, chuxiong):
    problems = problems_of(xlsx([school("5323010001"), school("5323010002"), school("5323010001")]), "dup.xlsx")
    hit = only(problems, 4, "学校代码")
    assert "第2行重复" in hit.message and hit.value == "5323010001"
    assert count(School) == 0 and count(SchoolYear) == 0


def test_missing_column(db, chuxiong):
    headers = [h for h in HEADERS if h != "网络多媒体教室数"]
    problems = problems_of(csv_bytes([school("5323010001")], headers=headers), "a.csv")
    hit = only(problems, 1, "网络多媒体教室数")
    assert "缺少此列" in hit.message
    assert count(SchoolYear) == 0


def test_file_that_is_not_a_real_xlsx(db, chuxiong):
    for data in (b"not a workbook at all", b"PK\x03\x04 truncated zip", csv_bytes([school("5323010001")])):
        problems = problems_of(data, "学校.xlsx")
        assert len(problems) == 1 and problems[0].row is None and "不是有效的 Excel" in problems[0].message
    assert "旧版" in problems_of(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "学校.xls")[0].message
    assert count(SchoolYear) == 0


def test_import_year_must_be_given_and_plausible(db, chuxiong):
    data = xlsx([school("5323010001")])
    assert "请指定数据年度" in problems_of(data, "a.xlsx", year=None)[0].message
    assert "2000" in problems_of(data, "a.xlsx", year=1999)[0].message
    assert count(SchoolYear) == 0


def test_every_error_is_listed_at_once(db, chuxiong):
    rows = [school("5323010001", county="昆明市"), school("5323010002", sports_area=-1, equipment_value="x")]
    problems = problems_of(xlsx(rows), "a.xlsx")
    assert [(p.row, p.column) for p in problems] == [(2, "县市"), (3, "体育运动场馆面积"), (3, "教学仪器设备值")]


def test_school_registered_in_another_county_is_refused(db, chuxiong):
    ops.import_schools(xlsx([school("5323010001")]), "a.xlsx", 2025)
    db.session.commit()
    problems = problems_of(xlsx([school("5323010001", county="禄丰市")]), "b.xlsx")
    assert only(problems, 2, "学校代码").message.startswith("该学校已登记在其他县市")


# ── who may upload what ─────────────────────────────────────────────────────────────────────
def test_county_user_may_upload_only_its_own_county(db, chuxiong, make_user):
    user = make_user("lufeng", "unit", unit_named("禄丰市").code)
    rows = [school("5323020001", county="禄丰市"), school("5323010001"), school("5323220001", county="双柏县")]
    problems = problems_of(xlsx(rows), "a.xlsx", actor=user)
    assert [(p.row, p.column) for p in problems] == [(3, "县市"), (4, "县市")]
    assert all("只能上传本县市" in p.message for p in problems)
    assert count(SchoolYear) == 0
    result = ops.import_schools(xlsx(rows[:1]), "a.xlsx", 2025, user)
    assert result["counties"] == [{"code": "532302", "name": "禄丰市", "schools": 1}]


def test_upload_page_lists_the_errors_and_imports_nothing(app, db, chuxiong, make_user):
    make_user("chuxiong", "unit", unit_named("楚雄市").code)
    client = app.test_client()
    client.post("/login", data={"username": "chuxiong", "password": "Passw0rd!x"})
    rows = [school("5323010001"), school("5323020001", county="禄丰市")]
    resp = client.post("/indicators/schools/upload", data={"year": "2025", "file": (io.BytesIO(xlsx(rows)), "学校.xlsx")},
                       content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "未导入任何数据" in page and "只能上传本县市的学校数据" in page and "<td>3</td>" in page
    assert count(SchoolYear) == 0
    resp = client.post("/indicators/schools/upload", data={"year": "2025", "file": (io.BytesIO(xlsx(rows[:1])), "学校.xlsx")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200 and "已导入 1 所学校" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert count(SchoolYear) == 1
    assert client.get("/indicators/schools/template.xlsx").data.startswith(b"PK")


def test_supervisors_and_department_users_cannot_upload(app, db, chuxiong, make_user):
    make_user("duxue", "supervisor")
    make_user("dept", "unit", "ZCZJ")
    for username in ("duxue", "dept"):
        client = app.test_client()
        client.post("/login", data={"username": username, "password": "Passw0rd!x"})
        resp = client.post("/indicators/schools/upload", content_type="multipart/form-data",
                           data={"year": "2025", "file": (io.BytesIO(xlsx([school("5323010001")])), "a.xlsx")})
        assert resp.status_code == 403
    assert count(SchoolYear) == 0


# ── command line ────────────────────────────────────────────────────────────────────────────
def test_cli_import_json_and_errors(app, db, chuxiong, tmp_path):
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx([school("5323010001"), school("5323020001", county="禄丰市")]))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["schools", "import", str(good), "--year", "2025", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["year"], out["rows"], out["schools"]) == (2025, 2, 2)
    assert [c["name"] for c in out["counties"]] == ["楚雄市", "禄丰市"]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([school("5323010005", county="昆明市"), school("5323010006", primary_pupils=-3)], "gbk"))
    result = runner.invoke(args=["schools", "import", str(bad), "--year", "2025"])
    assert result.exit_code == 1
    assert "第2行“县市”列" in result.output and "第3行“小学在校生数”列" in result.output and "未导入任何数据" in result.output
    result = runner.invoke(args=["schools", "import", str(good)])
    assert result.exit_code == 1 and "请指定数据年度" in result.output
    db.session.expire_all()
    assert count(SchoolYear) == 2


def test_import_writes_in_bulk_not_per_row(app, db, chuxiong):
    """Statements for 5 rows and for 50 rows are the same number: no query per row."""

    def statements(n: int, county: str, code: str) -> int:
        rows = [school(f"{code}{i:04d}", county=county) for i in range(n)]
        data = xlsx(rows)
        seen: list[str] = []

        def listen(conn, cursor, statement, params, context, executemany):
            seen.append(statement)

        engine = _db.engine
        event.listen(engine, "before_cursor_execute", listen)
        try:
            ops.import_schools(data, "a.xlsx", 2025)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        return len(seen)

    assert statements(5, "楚雄市", "532301") == statements(50, "禄丰市", "532302")
    assert count(SchoolYear) == 55


def test_formula_cells_are_refused(tmp_path, app, db, chuxiong):
    """A formula in a school-data sheet would run in Excel when exported again: refuse it, import nothing."""
    from openpyxl import Workbook

    from tracker.indicators.models import SchoolYear
    from tracker.indicators.schooldata import SchoolDataInvalid, _xlsx_rows

    wb = Workbook()
    ws = wb.active
    ws.append(["年度", "学校代码"])
    ws.append([2025, "=HYPERLINK(\"http://x\",\"a\")"])
    path = tmp_path / "formula.xlsx"
    wb.save(path)
    before = db.session.query(SchoolYear).count()
    with pytest.raises(SchoolDataInvalid) as err:
        _xlsx_rows(path.read_bytes())
    assert "公式" in str(err.value) or "formula" in str(err.value).lower()
    assert db.session.query(SchoolYear).count() == before


def test_formulas_in_any_sheet_are_named_and_texts_starting_with_equals_pass(app, db, chuxiong):
    """The file is streamed (read-only): a formula is still refused wherever it is, with its sheet, row and
    column, and a text that merely starts with "=" is not a formula."""
    import io

    from openpyxl import load_workbook

    from tracker.indicators.schooldata import SchoolDataInvalid, _xlsx_rows

    book = load_workbook(io.BytesIO(xlsx([school("5323010001"), school("5323010002")])))
    book.active["C3"].value, book.active["C3"].data_type = "=不是公式的名称", "s"
    notes = book.create_sheet("说明")
    notes["B2"] = "=1+1"
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(SchoolDataInvalid) as err:
        _xlsx_rows(out.getvalue())
    assert [p.message for p in err.value.problems] == [
        "工作表“说明”第2行第B列是公式（=1+1）：导入文件中不能含公式，请把公式单元格改为数值或文字（复制后“选择性粘贴 → 数值”）再导入。"]
    del book["说明"]
    out = io.BytesIO()
    book.save(out)
    rows = _xlsx_rows(out.getvalue())
    assert [n for n, _cells in rows] == [1, 2, 3] and rows[2][1][2] == "=不是公式的名称"
