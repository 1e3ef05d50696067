"""County evaluation from stored school data: the CLI's JSON on a hand-checked county, query counts,
county-level entries and the catalog kept in the database."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import event, func, select

from tests.helpers import PDF_BYTES, unit_named
from tests.test_indicators_import import school, xlsx
from tracker.errors import Forbidden, Invalid
from tracker.extensions import db as _db
from tracker.indicators import operations as ops
from tracker.indicators import store
from tracker.indicators.models import CountyEntry, CountyEntryFile, CountyEvaluation, IndicatorDef

#: every county-level entry met (G4/G5 come from the school rows)
ALL_MET = {
    "G1": "是", "G2": "是", "G3": "是", "G6": "是", "G7": 6500, "G8": 103, "G9": 100, "G10": "是",
    "G11a": 12, "G11b": 25, "G12": 100, "G13": "小学=100,初中=96", "G14": 55, "G15": 90,
    "Q1": 97, "Q2": 96, "Q3": "是", "Q4": "是", "Q5": "是", "Q6": "是", "Q7": "是", "Q8": "是",
    "Q9a": 3, "Q9b": 0.12, "S1": 91.2,
    "V1": "否", "V2": "否", "V3": "否", "V4": "否", "V5": "否", "V6": "否",
}


def hand_checked_rows(year: int = 2025) -> list[dict]:
    """Two primary schools and one junior school whose values are easy to check by hand.

    A (500 pupils): R1 5.0, R2 1.2, R3 1.0, R4 5.0, R5 8.0, R6 2200, R7 2.4 — all met.
    B (300 pupils): R1 5.0, R2 1.0, R3 1.0, R4 5.0, R5 8.0, R6 2200, R7 2.0 — R7 short of 2.3 but
      above 85 % of it (1.955): 6 of 7 met, the school passes.
    C (junior, 400): R1 6.0, R2 1.0, R3 1.0, R4 6.0, R5 11.0, R6 3000, R7 2.5 — all met.
    Primary CV of R7: X̄ = (2.4·500 + 2.0·300)/800 = 2.25, S² = .625·.15² + .375·.25² = .0375,
    CV = √.0375 / 2.25 = 0.0861; the same for R2 (X̄ 1.125, S² .009375). Every other CV is 0.
    """
    a = dict(qualified_teachers=25, backbone_teachers=6, pe_art_teachers=5, building_area=2500, sports_area=4000,
             equipment_value=1_100_000, multimedia_rooms=12)
    b = dict(qualified_teachers=15, backbone_teachers=3, pe_art_teachers=3, building_area=1500, sports_area=2400,
             equipment_value=660_000, multimedia_rooms=6)
    c = dict(qualified_teachers=24, backbone_teachers=4, pe_art_teachers=4, building_area=2400, sports_area=4400,
             equipment_value=1_200_000, multimedia_rooms=10)
    return [school("5323010001", primary=500, year=year, name="鹿城小学", **a),
            school("5323010002", primary=300, year=year, name="东瓜小学", **b),
            school("5323010003", school_type="初中", primary=0, junior=400, year=year, name="楚雄一中", **c)]


def enter_all(unit, year: int, **override) -> None:
    for code, value in {**ALL_MET, **override}.items():
        ops.set_entry(unit, year, code, value, evaluate_after=False)


def test_cli_evaluate_json_on_a_hand_checked_county(app, db, chuxiong, tmp_path):
    ops.import_schools(xlsx(hand_checked_rows()), "a.xlsx", 2025)
    enter_all(unit_named("楚雄市"), 2025)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["evaluate", "532301", "--year", "2025", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) >= {"county", "year", "levels", "resource_allocation_pass", "aspects", "pass"}
    assert (out["county"], out["year"], out["pass"], out["resource_allocation_pass"]) == ("楚雄市", 2025, True, True)
    primary, junior = out["levels"]["primary"], out["levels"]["junior"]
    assert [s["code"] for s in primary["schools"]] == ["5323010001", "5323010002"]
    a, b = primary["schools"]
    assert a["values"] == {"R1": 5.0, "R2": 1.2, "R3": 1.0, "R4": 5.0, "R5": 8.0, "R6": 2200.0, "R7": 2.4}
    assert (a["met"], a["pass"]) == (7, True)
    assert (b["met"], b["pass"], b["values"]["R7"]) == (6, True, 2.0)
    assert b["shortfalls"] == [{"code": "R7", "value": 2.0, "threshold": 2.3, "gap": 0.3, "gap_ratio": 0.1304,
                                "below_floor": False}]
    assert primary["indicators"]["R7"] == {"mean": 2.25, "sd": 0.1936, "cv": 0.0861, "limit": 0.5, "pass": True}
    assert primary["indicators"]["R2"]["cv"] == 0.0861 and primary["indicators"]["R1"]["cv"] == 0.0
    assert junior["schools"][0]["values"]["R6"] == 3000.0 and junior["indicators"]["R1"]["limit"] == 0.45
    assert primary["pass"] is junior["pass"] is True
    assert out["aspects"]["guarantee"]["items"]["G13"]["value"] == {"primary": 100, "junior": 96}
    assert out["aspects"]["guarantee"]["items"]["G5"]["pass"] is True
    stored = db.session.scalar(select(CountyEvaluation))
    assert stored.result == out and stored.passed and stored.assessable


def test_missing_entries_make_the_verdict_not_assessable_and_text_output(app, db, chuxiong):
    ops.import_schools(xlsx(hand_checked_rows()), "a.xlsx", 2025)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["evaluate", "楚雄市", "--year", "2025"])
    assert result.exit_code == 0, result.output
    assert "待补数据" in result.output and "资源配置：达标" in result.output
    row = db.session.scalar(select(CountyEvaluation))
    assert (row.passed, row.assessable) == (False, False)


def test_recomputed_in_place(app, db, chuxiong):
    unit = unit_named("楚雄市")
    ops.import_schools(xlsx(hand_checked_rows()), "a.xlsx", 2025)
    first = ops.evaluate(unit, 2025)
    enter_all(unit, 2025)
    second = ops.evaluate(unit, 2025)
    db.session.commit()
    assert first.id == second.id and second.passed
    assert db.session.scalar(select(func.count()).select_from(CountyEvaluation)) == 1


def test_evaluate_errors(app, db, chuxiong):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["evaluate", "昆明市", "--year", "2025"])
    assert result.exit_code == 1 and "找不到县市" in result.output
    result = runner.invoke(args=["evaluate", "楚雄市", "--year", "2025"])
    assert result.exit_code == 1 and "尚无学校数据" in result.output
    assert db.session.scalar(select(func.count()).select_from(CountyEvaluation)) == 0


def test_evaluation_query_count_does_not_grow_with_schools(app, db, chuxiong):
    ops.import_schools(xlsx([school(f"532301{i:04d}") for i in range(5)]), "a.xlsx", 2025)
    ops.import_schools(xlsx([school(f"532302{i:04d}", county="禄丰市") for i in range(50)]), "b.xlsx", 2025)
    enter_all(unit_named("楚雄市"), 2025)
    enter_all(unit_named("禄丰市"), 2025)
    db.session.commit()

    def statements(county: str) -> tuple[int, int]:
        unit = unit_named(county)
        seen: list[str] = []

        def listen(conn, cursor, statement, params, context, executemany):
            seen.append(statement)

        event.listen(_db.engine, "before_cursor_execute", listen)
        try:
            row = ops.evaluate(unit, 2025)
        finally:
            event.remove(_db.engine, "before_cursor_execute", listen)
        return len(seen), len(row.result["levels"]["primary"]["schools"])

    small, large = statements("楚雄市"), statements("禄丰市")
    assert (small[1], large[1]) == (5, 50)
    assert small[0] == large[0], (small, large)


# ── county-level entries ────────────────────────────────────────────────────────────────────
def test_entry_validation(app, db, chuxiong):
    unit = unit_named("楚雄市")
    cases = [("G8", "abc", "应填写数值"), ("G15", 120, "超出范围"), ("G1", "也许", "是”或“否"), ("Q9a", 2.5, "应为整数"),
             ("G13", "小学=100", "还需填写：初中"), ("G13", "高中=90,初中=95", "学段"), ("G4", 1800, "由学校数据计算"),
             ("R1", 5, "由学校数据计算"), ("X9", 1, "没有指标"), ("Q9b", 1.5, "超出范围")]
    for code, value, words in cases:
        with pytest.raises(Invalid) as info:
            ops.set_entry(unit, 2025, code, value)
        assert words in str(info.value), (code, value, str(info.value))
    assert db.session.scalar(select(func.count()).select_from(CountyEntry)) == 0
    ops.set_entry(unit, 2025, "G8", "103.5%")
    ops.set_entry(unit, 2025, "V3", "否")
    ops.set_entry(unit, 2025, "G13", "100")
    values = dict(db.session.execute(select(CountyEntry.code, CountyEntry.value)).all())
    assert values == {"G8": 103.5, "V3": False, "G13": {"primary": 100, "junior": 100}}


def test_entry_permissions(app, db, chuxiong, make_user):
    own = make_user("cx", "unit", unit_named("楚雄市").code)
    other = make_user("lf", "unit", unit_named("禄丰市").code)
    leader = make_user("ld", "leadership")
    sup = make_user("sup", "supervisor")
    unit = unit_named("楚雄市")
    for actor in (other, leader):
        with pytest.raises(Forbidden):
            ops.set_entry(unit, 2025, "G8", 101, actor=actor)
    ops.set_entry(unit, 2025, "G8", 101, actor=own)
    ops.set_entry(unit, 2025, "G9", 100, actor=sup)
    assert db.session.scalar(select(func.count()).select_from(CountyEntry)) == 2


def test_entry_with_evidence_files_and_reevaluation(app, db, chuxiong):
    unit = unit_named("楚雄市")
    ops.import_schools(xlsx(hand_checked_rows()), "a.xlsx", 2025)
    enter_all(unit, 2025)
    done = ops.set_entry(unit, 2025, "G8", 96, "教师工资低于公务员", files=[(io.BytesIO(PDF_BYTES), "工资对比表.pdf")])
    assert done["evaluation"] is not None and done["evaluation"].passed is False
    assert done["evaluation"].result["aspects"]["guarantee"]["items"]["G8"] == {
        "value": 96, "threshold": 100, "pass": False, "missing": False}
    again = ops.set_entry(unit, 2025, "G8", "", "", files=[(io.BytesIO(PDF_BYTES), "副本.pdf")])
    entry = again["entry"]
    assert entry.value == 96 and entry.note == "教师工资低于公务员"
    assert [f.filename for f in entry.files] == ["工资对比表.pdf"]  # same content stored and linked once
    assert db.session.scalar(select(func.count()).select_from(CountyEntryFile)) == 1
    with pytest.raises(Invalid):
        ops.set_entry(unit, 2025, "G9", 100, files=[(io.BytesIO(b"MZ\x90\x00 not a document"), "a.pdf")])


def test_cli_entry(app, db, chuxiong, tmp_path):
    pdf = tmp_path / "证明.pdf"
    pdf.write_bytes(PDF_BYTES)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["indicators", "entry", "楚雄市", "--year", "2025", "--code", "G8", "--value", "103",
                                 "--note", "财政局核定", "--file", str(pdf), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["code"], out["value"], out["note"]) == ("G8", 103, "财政局核定")
    assert (out["files"], out["evaluation"]) == (["证明.pdf"], None)
    result = runner.invoke(args=["indicators", "entry", "楚雄市", "--year", "2025", "--code", "G8", "--value", "-1"])
    assert result.exit_code == 1 and "超出范围" in result.output
    assert db.session.scalar(select(CountyEntry.value)) == 103


# ── the catalog in the database ─────────────────────────────────────────────────────────────
def test_catalog_loaded_into_the_db_and_used_by_the_engine(app, db, chuxiong):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["indicators", "load-catalog", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["indicators"] == db.session.scalar(select(func.count()).select_from(IndicatorDef)) == 40
    assert {"G7", "S1", "rules.floor_ratio"} <= set(out["uncertain"])
    unit = unit_named("楚雄市")
    ops.import_schools(xlsx(hand_checked_rows()), "a.xlsx", 2025)
    assert ops.evaluate(unit, 2025).result["levels"]["primary"]["pass"] is True
    # the admin raises the primary R7 threshold: school B (2.0 per 100) now falls below 85 % of 2.5
    admin = _user("admin1", "admin")
    store.update_indicator("R7", {"thresholds": {"primary": 2.5}}, admin)
    row = ops.evaluate(unit, 2025)
    b = row.result["levels"]["primary"]["schools"][1]
    assert (b["code"], b["pass"], b["shortfalls"][0]["below_floor"]) == ("5323010002", False, True)
    assert row.catalog_version == store.catalog_revision() == 2


def test_catalog_edits_are_validated(app, db, chuxiong):
    admin = _user("admin1", "admin")
    supervisor = _user("sup", "supervisor")
    store.load_catalog_into_db()
    db.session.commit()
    for code, change, words in [("R1", {"cv_limit": {"primary": -0.5}}, "greater than 0"),
                                ("R1", {"thresholds": {"primary": "abc"}}, "expected a number"),
                                ("G8", {"threshold": -3}, "不能为负数"),
                                ("G8", {"name": "x"}, "不能修改字段")]:
        with pytest.raises(Invalid) as info:
            store.update_indicator(code, change, admin)
        assert words in str(info.value)
        db.session.rollback()
    with pytest.raises(Invalid):
        store.update_rules({"floor_ratio": 1.5}, admin)
    db.session.rollback()
    with pytest.raises(Forbidden):
        store.update_indicator("G8", {"threshold": 90}, supervisor)
    db.session.rollback()
    catalog = store.current_catalog()
    assert catalog.by_code["R1"].cv_limit["primary"] == 0.5 and catalog.by_code["G8"].threshold == 100
    assert catalog.rules.floor_ratio == 0.85 and store.catalog_revision() == 1


def _user(name, role):
    from tracker.auth.operations import create_user

    return create_user(name, "Passw0rd!x", role)
