"""The one-statement evaluation (tracker/indicators/sqlengine.py) judges every county exactly as the engine does.

`evaluate_all` stores the compact result built from one aggregate; `operations.evaluate` runs the engine
school by school. On the sample counties and on a county holding every kind of school and every edge the
rules have (thresholds met exactly, the 85 % floor, exclusions, split schools, undecidable class sizes),
the stored result equals `results.compact` of the engine's (CV figures to the stored four decimals), and
the pages that list schools still list them.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.helpers import unit_named
from tests.test_api_support import bearer
from tests.test_indicators_bulk import assert_same, sample  # noqa: F401 — sample: the fixture
from tests.test_indicators_evaluate import enter_all
from tests.test_indicators_import import school, xlsx
from tracker.extensions import db as _db
from tracker.indicators import bulk, demo, store
from tracker.indicators import operations as ops
from tracker.indicators.engine import evaluate_county
from tracker.indicators.models import CountyEvaluation, SchoolYear
from tracker.indicators.results import is_detailed, level_counts
from tracker.models import Unit


def _engine_result(unit: Unit, year: int) -> dict:
    catalog = store.current_catalog()
    return evaluate_county(unit.name, year, ops.school_rows(unit, year), ops.evaluation_entries(unit, year, catalog),
                           catalog)


def _stored(unit: Unit, year: int) -> dict:
    return _db.session.scalar(select(CountyEvaluation.result).where(CountyEvaluation.unit_id == unit.id,
                                                                    CountyEvaluation.year == year))


def test_every_sample_county_and_year_is_judged_as_the_engine_judges_it(app, db, sample):  # noqa: F811
    for year in demo.YEARS:
        summary = ops.evaluate_all(year)
        assert summary["counties"] == 10 and summary["errors"] == []
        for unit in db.session.scalars(select(Unit).where(Unit.id.in_(sample))):
            stored = _stored(unit, year)
            assert not is_detailed(stored)
            assert_same(stored, _engine_result(unit, year), f"{unit.name}{year}")
    # the sample has counties that pass, fail on CVs and fail on schools: the comparison saw each
    results = [_stored(u, 2025) for u in db.session.scalars(select(Unit).where(Unit.id.in_(sample)))]
    assert {r["pass"] for r in results} == {True, False}
    assert any(level_counts(b)["failing"] for r in results for b in r["levels"].values())
    assert any(not i["pass"] for r in results for b in r["levels"].values() for i in b["indicators"].values())


def _edge_rows() -> list[dict]:
    """One county, every school type and every boundary the rules draw."""
    p = 1000
    exact = {  # every R value exactly at the primary threshold (met: equal within 1e-9)
        "qualified_teachers": 42, "backbone_teachers": 10, "pe_art_teachers": 9, "building_area": 4500.0,
        "sports_area": 7500.0, "equipment_value": 2_000_000.0, "multimedia_rooms": 23,
    }
    return [
        school("5323010101", primary=p, **exact),
        # 85 % of R5 exactly: tolerated once (6 of 7 met, none below the floor)
        school("5323010102", primary=p, **{**exact, "sports_area": 6375.0}),
        # just below 85 % of R5: fails the school and blocks R5
        school("5323010103", primary=p, **{**exact, "sports_area": 6300.0}),
        # two shortfalls: fails on the 6-of-7 rule, blocks R2 and R3
        school("5323010104", primary=p, **{**exact, "backbone_teachers": 9, "pe_art_teachers": 8}),
        school("5323010105", school_type="初中", primary=0, junior=900, max_class_size=52),  # G5 over 50
        school("5323010106", school_type="九年一贯制", primary=600, junior=400, max_class_size=48),  # G5 undecidable
        school("5323010107", school_type="九年一贯制", primary=300, junior=300, max_class_size_primary=44,
               max_class_size_junior=51),  # G5 per level: the junior figure fails
        school("5323010108", school_type="九年一贯制", primary=700, junior=0),  # only a primary part
        school("5323010109", school_type="完全中学", primary=0, junior=800, senior_pupils=600),
        school("5323010110", school_type="十二年一贯制", primary=500, junior=400, senior_pupils=300),
        school("5323010111", school_type="教学点", primary=30),  # left out (fewer than 50)
        school("5323010112", school_type="教学点", primary=60),  # evaluated
        school("5323010113", school_type="特殊教育", primary=80, junior=20),  # left out
        school("5323010114", primary=2100),  # G4: over 2000
        school("5323010115", school_type="初中", primary=0, junior=700, equipment_value=100.0),  # far below the floor
    ]


def test_a_county_with_every_kind_of_school_is_judged_as_the_engine_judges_it(app, db, chuxiong):
    ops.import_schools(xlsx(_edge_rows()), "edge.xlsx", 2025)
    unit = unit_named("楚雄市")
    enter_all(unit, 2025)
    db.session.commit()
    summary = ops.evaluate_all(2025)
    assert summary["errors"] == [] and summary["counties"] == 1
    full = _engine_result(unit, 2025)
    stored = _stored(unit, 2025)
    assert_same(stored, full)
    # the edges are there to be seen in the engine's own result
    primary = {row["code"]: row for row in full["levels"]["primary"]["schools"]}
    assert primary["5323010101"]["pass"] and primary["5323010102"]["pass"]
    assert not primary["5323010103"]["pass"] and not primary["5323010104"]["pass"]
    assert [e["code"] for e in full["excluded"]] == ["5323010111", "5323010113"]
    g5 = full["aspects"]["guarantee"]["items"]["G5"]
    assert {s["code"]: s["pass"] for s in g5["schools"]} == {"5323010105": False, "5323010106": None, "5323010107": False}
    assert full["aspects"]["guarantee"]["items"]["G4"]["pass"] is False
    assert stored["excluded_count"] == 2 and stored["aspects"]["guarantee"]["items"]["G5"]["failing_schools"] == 3
    assert stored["levels"]["primary"]["blocking"]["R5"] >= 1 and stored["levels"]["primary"]["blocking"]["R2"] >= 1


def test_identical_schools_give_a_cv_of_zero(app, db, chuxiong):
    ops.import_schools(xlsx([school(f"53230101{i:02d}") for i in range(5)]), "same.xlsx", 2025)
    db.session.commit()
    ops.evaluate_all(2025)
    unit = unit_named("楚雄市")
    stored = _stored(unit, 2025)
    assert {c: i["cv"] for c, i in stored["levels"]["primary"]["indicators"].items()} == {f"R{k}": 0.0 for k in range(1, 8)}
    assert_same(stored, _engine_result(unit, 2025))


@pytest.mark.parametrize("change, reason", [
    ({"school_type": "完全中学", "senior_pupils": 300}, "cannot have primary pupils"),
    ({"school_type": "十二年一贯制", "junior_pupils": 200, "senior_pupils": None}, "senior_pupils is needed"),
    ({"building_area": -5.0}, "must be a non-negative number"),
])
def test_a_school_the_engine_would_refuse_is_named_with_its_reason(app, db, chuxiong, change, reason):
    ops.import_schools(xlsx([school("5323010201"), school("5323010202")]), "a.xlsx", 2025)
    ops.import_schools(xlsx([school("5323020001", county="禄丰市")]), "b.xlsx", 2025)
    db.session.commit()
    row = db.session.scalar(select(SchoolYear).where(SchoolYear.unit_id == unit_named("楚雄市").id)
                            .order_by(SchoolYear.id).limit(1))
    for key, value in change.items():
        setattr(row, key, value)
    db.session.commit()
    summary = ops.evaluate_all(2025)
    assert [r["county"] for r in summary["results"]] == ["禄丰市"]
    (error,) = summary["errors"]
    assert error["county"] == "楚雄市" and "5323010201" in error["error"] and reason in error["error"]


def test_good_data_never_reaches_the_school_by_school_engine(app, db, sample, monkeypatch):  # noqa: F811
    def refuse(*args, **kwargs):
        raise AssertionError("a school row was read into Python")

    monkeypatch.setattr(ops, "school_rows", refuse)
    monkeypatch.setattr(bulk, "evaluate_county", refuse)
    assert ops.evaluate_all(2025)["counties"] == 10


def test_pages_list_the_schools_of_a_compact_result(app, db, client, login, sample, make_user):  # noqa: F811
    ops.evaluate_all(2025)
    db.session.commit()
    unit = db.session.get(Unit, sample[0])
    full = _engine_result(unit, 2025)
    admin = make_user("admin1", "admin")
    login("admin1")
    page = client.get(f"/indicators/counties/{unit.code}/2025").get_data(as_text=True)
    for row in full["levels"]["primary"]["schools"][:3]:
        assert row["name"] in page  # the school table, completed by the engine for this county
    assert page.count("<tr") >= len(full["levels"]["primary"]["schools"])
    api = client.get(f"/api/v1/counties/{unit.code}/evaluations/2025", headers=bearer(admin))
    assert api.status_code == 200, api.get_data(as_text=True)
    body = api.get_json()
    assert len(body["result"]["levels"]["primary"]["schools"]) == len(full["levels"]["primary"]["schools"])
    assert len(body["gaps"]) == len(store.gap_list(full, store.current_catalog()))
    trend = client.get(f"/indicators/counties/{unit.code}/trend").get_data(as_text=True)
    assert f"<td>{len(full['levels']['primary']['schools'])}</td>" in trend


@pytest.mark.parametrize("bound", [45.0, 0.5, 0.45, 4.2, 2000.0, 1e-12, 0.0, 3.3333333333333335, 1e9])
def test_one_comparison_with_the_edge_gives_the_engines_verdict_with_its_tolerance(bound):
    from math import inf, nextafter

    from tracker.indicators.engine import compare
    from tracker.indicators.sqlengine import edge, integer_range

    for comparison in ("le", "gt", "ge", "lt"):
        at = edge(bound, comparison)
        inside = at <= bound * (1 + 2e-9) + 2e-12 if comparison in ("le", "gt") else at >= bound * (1 - 2e-9) - 2e-12
        assert inside, (bound, comparison, at)
        above, below = nextafter(at, inf), nextafter(at, -inf)
        for value in (at, above, below, bound, nextafter(bound, inf), nextafter(bound, -inf)):
            plain = {"le": value <= at, "gt": value > at, "ge": value >= at, "lt": value < at}[comparison]
            assert plain == compare(value, bound, comparison), (bound, comparison, value)
    for comparison in ("le", "gt", "ge", "lt", "eq"):
        low, high = integer_range(bound, comparison)
        for n in range(int(bound) - 3, int(bound) + 4):
            within = (low is None or n >= low) and (high is None or n <= high)
            assert within == compare(n, bound, comparison), (bound, comparison, n, low, high)
