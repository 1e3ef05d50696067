"""Indicator catalog and county evaluation engine (教督〔2017〕6号), checked against hand-computed cases."""
from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.indicators.catalog import Catalog, CatalogError, load_catalog
from tracker.indicators.engine import (
    SchoolYearData,
    county_verdict_changed,
    evaluate_county,
    school_compliance,
    school_values,
    split_school,
    weighted_cv,
)

CATALOG = load_catalog()
COUNTY = "示例县"

# Every county-level entry met (G4/G5 are derived from the school rows, never entered).
ALL_MET = {
    "G1": True, "G2": True, "G3": True, "G6": True, "G7": 6500, "G8": 103.5, "G9": 100, "G10": True,
    "G11a": 12, "G11b": 25, "G12": 100, "G13": {"primary": 100, "junior": 96}, "G14": 55, "G15": 90,
    "Q1": 97, "Q2": 96, "Q3": True, "Q4": True, "Q5": True, "Q6": True, "Q7": True, "Q8": True,
    "Q9a": 3, "Q9b": 0.12, "S1": 91.2,
    "V1": False, "V2": False, "V3": False, "V4": False, "V5": False, "V6": False,
}

# Per 100 pupils these totals give R1–R7 exactly at the primary thresholds.
PRIMARY_AT_THRESHOLD = dict(qualified_teachers=4.2, backbone_teachers=1.0, pe_art_teachers=0.9, building_area=450,
                            sports_area=750, equipment_value=200_000, multimedia_rooms=2.3)


def school(code, school_type="小学", primary=0, junior=0, county=COUNTY, **fields):
    """A school row; totals default to 0 and the largest class to 40 (within every class-size limit)."""
    row = dict(qualified_teachers=0, backbone_teachers=0, pe_art_teachers=0, building_area=0, sports_area=0,
               equipment_value=0, multimedia_rooms=0, max_class_size=40)
    row.update(fields)
    return SchoolYearData(code=code, name=f"{code}学校", county=county, school_type=school_type,
                          primary_pupils=primary, junior_pupils=junior, **row)


def primary_values(**overrides):
    """R1–R7 of a primary school sitting exactly on every threshold, with overrides."""
    values = {"R1": 4.2, "R2": 1.0, "R3": 0.9, "R4": 4.5, "R5": 7.5, "R6": 2000.0, "R7": 2.3}
    values.update(overrides)
    return values


# ── catalog ─────────────────────────────────────────────────────────────────────────────
def test_catalog_holds_the_standard_figures():
    by = CATALOG.by_code
    assert [i.code for i in CATALOG.resource_indicators] == ["R1", "R2", "R3", "R4", "R5", "R6", "R7"]
    assert {c: (by[c].thresholds["primary"], by[c].thresholds["junior"]) for c in ("R1", "R4", "R5", "R6", "R7")} == {
        "R1": (4.2, 5.3), "R4": (4.5, 5.8), "R5": (7.5, 10.2), "R6": (2000, 2500), "R7": (2.3, 2.4)}
    assert all(i.cv_limit == {"primary": 0.5, "junior": 0.45} for i in CATALOG.resource_indicators)
    guarantee = {i.group or i.code for i in CATALOG.aspect("guarantee")}
    quality = {i.group or i.code for i in CATALOG.aspect("quality")}
    assert len(guarantee) == 15 and len(quality) == 9
    assert [i.code for i in CATALOG.aspect("veto")] == ["V1", "V2", "V3", "V4", "V5", "V6"]
    assert by["G5"].thresholds == {"primary": 45, "junior": 50}
    assert by["G4"].thresholds["九年一贯制"] == 2500 and by["G4"].thresholds["小学"] == 2000
    assert by["G13"].thresholds == {"primary": 100, "junior": 95}
    assert (by["Q9b"].comparison, by["Q9b"].threshold) == ("lt", 0.15)
    assert by["G7"].uncertain and by["G7"].note and by["S1"].uncertain
    rules = CATALOG.rules
    assert (rules.min_met, rules.floor_ratio) == (6, 0.85)
    assert set(rules.uncertain) == {"floor_ratio", "exclusions"}
    assert rules.split_weights["十二年一贯制"] == {"primary": 1.0, "junior": 1.1, "senior": 1.32}


def test_catalog_round_trips_through_dict():
    assert Catalog.from_dict(CATALOG.to_dict()) == CATALOG
    assert Catalog.from_dict(yaml.safe_load(yaml.safe_dump(CATALOG.to_dict(), allow_unicode=True))) == CATALOG


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["indicators"][3]["thresholds"].update(junior="abc"), "indicators[3] (R4).thresholds.junior"),
    (lambda d: d["indicators"][0].pop("cv_limit"), "indicators[0] (R1).cv_limit"),
    (lambda d: d["indicators"][8].update(aspect="money"), "(G2).aspect"),
    (lambda d: d["indicators"][13].pop("note"), "(G7).note"),
    (lambda d: d["rules"].pop("min_met"), "rules.min_met"),
    (lambda d: d["rules"]["split_weights"]["九年一贯制"].pop("junior"), "rules.split_weights.九年一贯制"),
    (lambda d: d["indicators"].pop(6), "resource indicators must be exactly"),
])
def test_bad_catalog_names_the_field(tmp_path, mutate, field):
    data = CATALOG.to_dict()
    mutate(data)
    bad = tmp_path / "indicators.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_catalog(bad)
    assert field in str(err.value) and str(bad) in str(err.value)


# ── coefficient of variation ────────────────────────────────────────────────────────────
def test_published_worked_example():
    # The published example (县域义务教育校际均衡指标计算方法, 以生均图书册数为例) prints only
    # the totals in our notes; its table, found again, is (pupils, books) per school:
    # 45/279, 37/137, 89/935, 76/160, 55/402 → 302 pupils, 1913 books. A brute-force search
    # was not needed: these five pairs reproduce every published aggregate.
    pupils = [45, 37, 89, 76, 55]
    books = [279, 137, 935, 160, 402]
    assert (sum(pupils), sum(books)) == (302, 1913)
    mean, sd, cv = weighted_cv([b / p for b, p in zip(books, pupils)], pupils)
    assert round(mean, 2) == 6.33
    assert round(sd ** 2, 2) == 10.65
    assert round(sd, 2) == 3.26
    assert round(cv, 2) == 0.52


def test_weighted_cv_two_schools_by_hand():
    # X = 5 (200 pupils), 1 (200 pupils): mean 3, S = √(½·4 + ½·4) = 2, CV = 2/3.
    assert weighted_cv([5.0, 1.0], [200, 200]) == pytest.approx((3.0, 2.0, 2 / 3))
    # Weights matter: X = 4 (300 pupils), 8 (100 pupils): mean 5, S = √(.75·1 + .25·9) = √3.
    assert weighted_cv([4.0, 8.0], [300, 100]) == pytest.approx((5.0, 3 ** 0.5, 3 ** 0.5 / 5))


values_and_pupils = st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0.01, 1e6), min_size=n, max_size=n),
    st.lists(st.integers(1, 5000), min_size=n, max_size=n),
))


@settings(database=None, max_examples=200)
@given(values_and_pupils, st.floats(1e-3, 1e3))
def test_cv_unchanged_when_values_scaled(data, factor):
    values, pupils = data
    cv = weighted_cv(values, pupils)[2]
    assert weighted_cv([v * factor for v in values], pupils)[2] == pytest.approx(cv, rel=1e-9, abs=1e-12)


@settings(database=None, max_examples=200)
@given(st.floats(0, 1e6), st.lists(st.integers(1, 5000), min_size=1, max_size=30))
def test_cv_zero_when_all_schools_equal(value, pupils):
    assert weighted_cv([value] * len(pupils), pupils)[2] == pytest.approx(0.0, abs=1e-9)


@settings(database=None, max_examples=200)
@given(values_and_pupils, st.integers(2, 1000))
def test_cv_unchanged_when_pupils_scaled(data, factor):
    values, pupils = data
    cv = weighted_cv(values, pupils)[2]
    assert weighted_cv(values, [p * factor for p in pupils])[2] == pytest.approx(cv, rel=1e-9, abs=1e-12)


# ── per-school rule: 6 of 7, the rest ≥ 85 % ────────────────────────────────────────────
def test_six_met_and_seventh_at_90_percent_passes():
    result = school_compliance(primary_values(R4=4.5 * 0.9), "primary", CATALOG)
    assert (result["met"], result["pass"]) == (6, True)
    [shortfall] = result["shortfalls"]
    assert shortfall["code"] == "R4" and shortfall["gap"] == pytest.approx(0.45)
    assert shortfall["gap_ratio"] == pytest.approx(0.10)


def test_six_met_and_seventh_at_80_percent_fails():
    result = school_compliance(primary_values(R6=1600.0), "primary", CATALOG)
    assert (result["met"], result["pass"]) == (6, False)
    assert result["shortfalls"][0]["below_floor"] is True


def test_five_met_fails_even_close_to_thresholds():
    result = school_compliance(primary_values(R1=4.1, R7=2.2), "primary", CATALOG)
    assert (result["met"], result["pass"]) == (5, False)
    # Larger relative gap first: R7 (0.1/2.3 ≈ 4.3 %) before R1 (0.1/4.2 ≈ 2.4 %).
    assert [s["code"] for s in result["shortfalls"]] == ["R7", "R1"]


def test_floor_boundary_exactly_85_percent_passes():
    # 382.5 ㎡ for 100 pupils = 3.825 ㎡/pupil = 0.85 × 4.5 exactly (as far as floats go).
    at_floor = school("F1", primary=100, **{**PRIMARY_AT_THRESHOLD, "building_area": 382.5})
    below = school("F2", primary=100, **{**PRIMARY_AT_THRESHOLD, "building_area": 382.4})
    [part] = split_school(at_floor, CATALOG.rules)
    assert school_compliance(school_values(part), "primary", CATALOG)["pass"] is True
    [part] = split_school(below, CATALOG.rules)
    assert school_compliance(school_values(part), "primary", CATALOG)["pass"] is False


def test_thresholds_met_exactly_from_raw_totals():
    [part] = split_school(school("E", primary=100, **PRIMARY_AT_THRESHOLD), CATALOG.rules)
    assert school_compliance(school_values(part), "primary", CATALOG) == {"met": 7, "pass": True, "shortfalls": []}


# ── splitting schools that span levels ──────────────────────────────────────────────────
def test_nine_year_school_split_by_weighted_pupils():
    # 300 primary + 200 junior pupils, weights 1 : 1.1.
    # primary share = 300·1 / (300·1 + 200·1.1) = 300 / 520 ≈ 0.5769
    # building 2600 ㎡ → primary 2600·300/520 = 1500 ㎡ (5.0 ㎡/pupil), junior 1100 ㎡ (5.5 ㎡/pupil).
    s = school("N", "九年一贯制", primary=300, junior=200, building_area=2600, qualified_teachers=26)
    primary, junior = split_school(s, CATALOG.rules)
    assert (primary.level, primary.pupils, junior.level, junior.pupils) == ("primary", 300, "junior", 200)
    assert primary.weighted_share == pytest.approx(300 / 520)
    assert primary.totals["building_area"] == pytest.approx(1500)
    assert junior.totals["building_area"] == pytest.approx(1100)
    assert school_values(primary)["R4"] == pytest.approx(5.0)
    assert school_values(junior)["R4"] == pytest.approx(5.5)
    # 26 teachers → 15 primary (5.0 per 100) and 11 junior (5.5 per 100).
    assert school_values(primary)["R1"] == pytest.approx(5.0)


def test_per_level_figures_win_over_the_split():
    s = school("N", "九年一贯制", primary=300, junior=200, building_area=2600,
               building_area_primary=1200, building_area_junior=1400)
    primary, junior = split_school(s, CATALOG.rules)
    assert (primary.totals["building_area"], junior.totals["building_area"]) == (1200, 1400)
    with pytest.raises(ValueError, match="N: building_area is given per level for some levels only"):
        split_school(school("N", "九年一贯制", primary=300, junior=200, building_area_primary=1), CATALOG.rules)


def test_senior_high_takes_its_share_and_is_dropped():
    # 完全中学 600 junior + 400 senior, 1 : 1.2 → junior share 600 / (600 + 480) = 5/9.
    s = school("W", "完全中学", junior=600, building_area=10800, senior_pupils=400)
    [junior] = split_school(s, CATALOG.rules)
    assert junior.level == "junior" and junior.totals["building_area"] == pytest.approx(6000)
    # 十二年一贯制 100/100/100 with 1 : 1.1 : 1.32 → shares 100/342 and 110/342 of 3420 ㎡.
    s = school("Z", "十二年一贯制", 100, 100, building_area=3420, senior_pupils=100)
    primary, junior = split_school(s, CATALOG.rules)
    assert (primary.totals["building_area"], junior.totals["building_area"]) == pytest.approx((1000, 1100))
    with pytest.raises(ValueError, match="W: senior_pupils is needed"):
        split_school(school("W", "完全中学", junior=600, building_area=10800), CATALOG.rules)


def test_zero_pupils_are_refused_with_the_school_code():
    with pytest.raises(ValueError, match="X9"):
        split_school(school("X9", primary=0), CATALOG.rules)
    with pytest.raises(ValueError, match="X8"):
        evaluate_county(COUNTY, 2024, [school("X8", "初中")], ALL_MET, CATALOG)


# ── exclusions ──────────────────────────────────────────────────────────────────────────
def test_exclusions_teaching_points_under_50_and_special_schools():
    schools = [
        school("T49", "教学点", primary=49, **PRIMARY_AT_THRESHOLD),
        school("T50", "教学点", primary=50, **PRIMARY_AT_THRESHOLD),
        school("SP", "特殊教育", primary=80),
        school("VO", "职业学校"),
    ]
    result = evaluate_county(COUNTY, 2024, schools, ALL_MET, CATALOG)
    excluded = {e["code"]: e["reason"] for e in result["excluded"]}
    assert set(excluded) == {"T49", "SP", "VO"}
    assert "50" in excluded["T49"] and "特殊教育" in excluded["SP"]
    assert [s["code"] for s in result["levels"]["primary"]["schools"]] == ["T50"]
    # No junior school: that level is not assessable and left out of the resource verdict.
    assert result["levels"]["junior"] == {"schools": [], "indicators": {}, "pass": None}
    assert result["resource_allocation_pass"] is True


# ── a county end to end ─────────────────────────────────────────────────────────────────
def example_county():
    return [
        # P1: 200 pupils, every primary threshold met (R1 5.0, R2 1.5, R3 1.0, R4 5.0, R5 8.0, R6 2500, R7 3.0).
        school("P1", primary=200, qualified_teachers=10, backbone_teachers=3, pe_art_teachers=2, building_area=1000,
               sports_area=1600, equipment_value=500_000, multimedia_rooms=6),
        # P2: 100 pupils, R5 6.9 < 7.5 (gap 0.6, ratio 0.08, above the 85 % floor): 6 of 7 → passes.
        school("P2", primary=100, qualified_teachers=5, backbone_teachers=1, pe_art_teachers=1, building_area=500,
               sports_area=690, equipment_value=250_000, multimedia_rooms=3),
        # P3: 100 pupils, R1 4.0 (ratio 0.2/4.2 ≈ 0.0476) and R4 4.0 (ratio 0.5/4.5 ≈ 0.1111): 5 of 7 → fails.
        school("P3", primary=100, qualified_teachers=4, backbone_teachers=1, pe_art_teachers=1, building_area=400,
               sports_area=800, equipment_value=200_000, multimedia_rooms=3),
        # J1, J2: 100 pupils each, every junior threshold met, but backbone teachers 5.0 vs 1.0 per 100:
        # mean 3, S 2, CV 0.667 > 0.45 (ratio (0.667 − 0.45)/0.45 ≈ 0.48).
        school("J1", "初中", junior=100, qualified_teachers=6, backbone_teachers=5, pe_art_teachers=1,
               building_area=600, sports_area=1100, equipment_value=300_000, multimedia_rooms=3),
        school("J2", "初中", junior=100, qualified_teachers=6, backbone_teachers=1, pe_art_teachers=1,
               building_area=600, sports_area=1100, equipment_value=300_000, multimedia_rooms=3),
        school("T30", "教学点", primary=30),
    ]


def test_county_end_to_end_verdict_and_gap_order():
    result = evaluate_county(COUNTY, 2024, example_county(), ALL_MET, CATALOG)
    primary, junior = result["levels"]["primary"], result["levels"]["junior"]
    assert {s["code"]: (s["met"], s["pass"]) for s in primary["schools"]} == {
        "P1": (7, True), "P2": (6, True), "P3": (5, False)}
    # R1 over primary: X = 5, 5, 4 with 200, 100, 100 pupils → mean 4.75,
    # S² = .5·.0625 + .25·.0625 + .25·.5625 = .1875, CV = √.1875 / 4.75 ≈ 0.0912.
    assert primary["indicators"]["R1"] == {"mean": 4.75, "sd": 0.433, "cv": 0.0912, "limit": 0.5, "pass": True}
    assert primary["pass"] is False
    assert all(s["pass"] for s in junior["schools"])
    assert junior["indicators"]["R2"] == {"mean": 3.0, "sd": 2.0, "cv": 0.6667, "limit": 0.45, "pass": False}
    assert junior["pass"] is False
    assert result["resource_allocation_pass"] is False
    assert [e["code"] for e in result["excluded"]] == ["T30"]
    assert result["aspects"]["guarantee"]["pass"] is True
    assert result["aspects"]["quality"]["pass"] is True
    assert result["aspects"]["recognition"]["pass"] is True
    assert (result["aspects"]["veto"]["pass"], result["aspects"]["veto"]["violations"]) == (True, [])
    assert (result["pass"], result["assessable"]) == (False, True)
    assert [(g["kind"], g["level"], g.get("school_code"), g["indicator"], g["gap_ratio"]) for g in result["gaps"]] == [
        ("school", "primary", "P3", "R4", 0.1111),
        ("school", "primary", "P2", "R5", 0.08),
        ("school", "primary", "P3", "R1", 0.0476),
        ("cv", "junior", None, "R2", 0.4815),
    ]
    assert result["gaps"][0] == {"kind": "school", "level": "primary", "school_code": "P3", "school_name": "P3学校",
                                 "indicator": "R4", "value": 4.0, "threshold": 4.5, "gap": 0.5, "gap_ratio": 0.1111,
                                 "below_floor": False, "school_pass": False}
    assert result["gaps"][-1]["value"] == 0.6667 and result["gaps"][-1]["limit"] == 0.45


def test_county_passes_once_the_shortfalls_are_fixed():
    schools = example_county()
    schools[2] = school("P3", primary=100, qualified_teachers=4.2, backbone_teachers=1, pe_art_teachers=1,
                        building_area=400, sports_area=800, equipment_value=200_000, multimedia_rooms=3)
    schools[3] = school("J1", "初中", junior=100, qualified_teachers=6, backbone_teachers=2, pe_art_teachers=1,
                        building_area=600, sports_area=1100, equipment_value=300_000, multimedia_rooms=3)
    before = evaluate_county(COUNTY, 2024, example_county(), ALL_MET, CATALOG)
    after = evaluate_county(COUNTY, 2025, schools, ALL_MET, CATALOG)
    # P3 now meets 6 (R4 at 4.0/4.5 ≈ 89 % stays above the floor); J1/J2 backbone 2 vs 1 → CV 1/3.
    assert after["pass"] is True and after["gaps"][0]["indicator"] == "R4"
    assert county_verdict_changed(before, after) == "passed"
    assert county_verdict_changed(None, after) == "passed"
    assert county_verdict_changed(after, before) == "slipped"
    assert county_verdict_changed(after, after) is None


def test_missing_entries_make_aspect_not_assessable():
    entries = {**ALL_MET, "G9": None, "Q1": None}
    del entries["S1"]
    result = evaluate_county(COUNTY, 2024, [school("E", primary=100, **PRIMARY_AT_THRESHOLD)], entries, CATALOG)
    assert result["aspects"]["guarantee"]["items"]["G9"] == {"value": None, "threshold": 100, "pass": None,
                                                             "missing": True}
    assert [result["aspects"][a]["pass"] for a in ("resource", "guarantee", "quality", "recognition", "veto")] == [
        True, None, None, None, True]
    assert (result["pass"], result["assessable"]) == (False, False)
    # Data not yet entered is not a slip; a known failure is.
    passed = evaluate_county(COUNTY, 2023, [school("E", primary=100, **PRIMARY_AT_THRESHOLD)], ALL_MET, CATALOG)
    assert county_verdict_changed(passed, result) is None
    failing = {**entries, "G12": 98}
    result = evaluate_county(COUNTY, 2024, [school("E", primary=100, **PRIMARY_AT_THRESHOLD)], failing, CATALOG)
    assert result["aspects"]["guarantee"]["pass"] is False and result["assessable"] is True
    assert county_verdict_changed(passed, result) == "slipped"


def test_veto_and_two_part_and_per_level_items():
    schools = [school("E", primary=100, **PRIMARY_AT_THRESHOLD)]
    result = evaluate_county(COUNTY, 2024, schools, {**ALL_MET, "V2": True}, CATALOG)
    assert result["aspects"]["veto"]["violations"] == ["V2"] and result["pass"] is False
    result = evaluate_county(COUNTY, 2024, schools, {**ALL_MET, "G11b": 19.5, "Q9b": 0.15,
                                                     "G13": {"primary": 100, "junior": 94}}, CATALOG)
    items = {**result["aspects"]["guarantee"]["items"], **result["aspects"]["quality"]["items"]}
    assert (items["G11a"]["pass"], items["G11b"]["pass"]) == (True, False)
    assert items["Q9b"]["pass"] is False  # strictly below 0.15
    assert items["G13"]["pass"] is False
    with pytest.raises(ValueError, match="G1: expected true or false"):
        evaluate_county(COUNTY, 2024, schools, {**ALL_MET, "G1": "是"}, CATALOG)


def test_school_size_and_class_size_come_from_school_rows():
    schools = [
        school("BIG", primary=2100, max_class_size=45, **{k: v * 21 for k, v in PRIMARY_AT_THRESHOLD.items()}),
        school("N1", "九年一贯制", primary=1200, junior=1200, max_class_size=44),
        school("J", "初中", junior=500, max_class_size=50),
    ]
    result = evaluate_county(COUNTY, 2024, schools, ALL_MET, CATALOG)
    g4, g5 = (result["aspects"]["guarantee"]["items"][c] for c in ("G4", "G5"))
    assert g4["pass"] is False and [s["code"] for s in g4["schools"]] == ["BIG"]  # 2400 in a 九年一贯制 is fine
    assert (g5["pass"], g5["value"]) == (True, 50)
    # A whole-school maximum of 48 in a 九年一贯制 may be a primary class (> 45) or a junior one (≤ 50).
    schools[1] = replace(schools[1], max_class_size=48)
    g5 = evaluate_county(COUNTY, 2024, schools, ALL_MET, CATALOG)["aspects"]["guarantee"]["items"]["G5"]
    assert (g5["pass"], g5["missing"]) == (None, True)
    schools[1] = replace(schools[1], max_class_size_primary=44, max_class_size_junior=48)
    g5 = evaluate_county(COUNTY, 2024, schools, ALL_MET, CATALOG)["aspects"]["guarantee"]["items"]["G5"]
    assert (g5["pass"], g5["missing"]) == (True, False)
    schools[2] = replace(schools[2], max_class_size=52)
    g5 = evaluate_county(COUNTY, 2024, schools, ALL_MET, CATALOG)["aspects"]["guarantee"]["items"]["G5"]
    assert g5["pass"] is False and g5["schools"][0]["code"] == "J" and g5["schools"][0]["threshold"] == 50
    with pytest.raises(ValueError, match="G5 is derived from the school rows"):
        evaluate_county(COUNTY, 2024, schools, {**ALL_MET, "G5": 45}, CATALOG)


def test_roster_errors():
    with pytest.raises(ValueError, match="duplicate school codes: A"):
        evaluate_county(COUNTY, 2024, [school("A", primary=10), school("A", primary=10)], {}, CATALOG)
    with pytest.raises(ValueError, match="not in 示例县: B"):
        evaluate_county(COUNTY, 2024, [school("B", primary=10, county="别县")], {}, CATALOG)
    with pytest.raises(ValueError, match="unknown indicator codes in county entries: G99"):
        evaluate_county(COUNTY, 2024, [], {"G99": 1}, CATALOG)
