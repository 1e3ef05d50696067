"""evaluate_all: every county of a year at once gives exactly what evaluating county by county gives
(stored evaluations — compact, see results.py —, flags, reopened tasks, audit rows, notices), in a number of statements that does
not grow with the number of counties; and two evaluations of one county-year at once both succeed."""
from __future__ import annotations

import json
import math
import threading

import pytest
from sqlalchemy import event, func, select

from tests.helpers import unit_named
from tests.test_indicators_evaluate import enter_all, hand_checked_rows
from tests.test_indicators_import import school, xlsx
from tracker.extensions import db as _db
from tracker.indicators import demo, store
from tracker.indicators import operations as ops
from tracker.indicators.models import CountyEvaluation, CountyFlag
from tracker.indicators.results import compact
from tracker.models import Evidence, Notification, Task, TaskEvent, Unit, User

SLIPPING = "532324"  # 南华县: passes 2024, slips 2025 (tracker/indicators/demo.py)


@pytest.fixture
def sample(db, chuxiong, make_user):
    """The 10 Chuxiong counties' sample schools and county entries for 2024 and 2025, imported, not evaluated;
    a unit user per county and two supervisors."""
    counties = list(db.session.scalars(select(Unit).where(Unit.code.in_(list(demo.PROFILES))).order_by(Unit.code)))
    for unit in counties:
        make_user(f"u{unit.code}", "unit", unit.code)
    make_user("duxue", "supervisor")
    make_user("duxue2", "supervisor")
    catalog = store.current_catalog()
    for year in demo.YEARS:
        rows = [row for unit in counties for row in demo.year_rows(unit, year, catalog)]
        ops.import_schools(xlsx(rows), f"sample-{year}.xlsx", year, sample=True)
        for unit in counties:
            for code, value in demo.entries(unit, year).items():
                ops.set_entry(unit, year, code, value, evaluate_after=False, catalog=catalog)
    db.session.commit()
    return [u.id for u in counties]


def assert_same(stored: dict, full: dict, path: str = "result") -> None:
    """`stored` (compact, from the aggregate) equals compact(`full`): verdicts and counts exactly, figures to
    the fourth decimal (the sums and the engine's two-pass CV may differ in the last stored digit)."""
    want = compact(full)
    _close(stored, want, path)


def _close(have, want, path: str) -> None:
    if isinstance(want, dict):
        assert isinstance(have, dict) and set(have) == set(want), (path, sorted(set(have) ^ set(want or {})))
        for key in want:
            _close(have[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert isinstance(have, list) and len(have) == len(want), path
        for i, (h, w) in enumerate(zip(have, want)):
            _close(h, w, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert math.isclose(have, want, rel_tol=1e-6, abs_tol=1.5e-4), (path, have, want)
    else:
        assert have == want, (path, have, want)


def _per_county(year: int) -> None:
    for unit in db_units():
        ops.evaluate(unit, year)


def db_units() -> list[Unit]:
    return list(_db.session.scalars(select(Unit).where(Unit.code.in_(list(demo.PROFILES))).order_by(Unit.code)))


def _scenario(run) -> None:
    """2024 evaluated; a linked task of 南华县 completed; 2025 evaluated (南华县 slips: the task is reopened,
    the county flagged); 2025 again (nothing new); 2024 again (an older year: its row only)."""
    run(2024)
    assert demo._complete_linked_task(_db.session.get(Unit, unit_named("南华县").id), "六", 2024) is not None
    run(2025)
    run(2025)
    run(2024)
    _db.session.flush()


def _snapshot() -> dict[str, list[dict]]:
    """Every row the evaluations write, with generated ids replaced by natural keys."""
    session = _db.session
    users = dict(session.execute(select(User.id, User.username)).all())
    evaluations = {r.id: [r.unit_id, r.year] for r in session.execute(select(CountyEvaluation.id, CountyEvaluation.unit_id,
                                                                              CountyEvaluation.year))}
    flags = {r.id: [r.unit_id, r.kind, r.year] for r in session.execute(select(CountyFlag.id, CountyFlag.unit_id,
                                                                               CountyFlag.kind, CountyFlag.year))}

    def rows(model, keep_id: bool = False) -> list[dict]:
        out = []
        for row in session.execute(select(model.__table__)).mappings():
            item = dict(row)
            if not keep_id:
                item.pop("id")
            for key in ("user_id", "actor_id", "uploader_id", "resolved_by_id"):
                if item.get(key) is not None:
                    item[key] = users[item[key]]
            data = item.get("data")
            if isinstance(data, dict):
                data = dict(data)
                if "flag_id" in data:
                    data["flag_id"] = flags[data["flag_id"]]
                if "evaluation_id" in data:
                    data["evaluation_id"] = evaluations[data["evaluation_id"]]
                item["data"] = data
            out.append(item)
        # an evaluation is known by its county and year: its result takes one of two shapes
        return sorted(out, key=lambda d: json.dumps({k: v for k, v in d.items() if k != "result"}, sort_keys=True,
                                                    default=str, ensure_ascii=False))

    return {"evaluations": rows(CountyEvaluation), "flags": rows(CountyFlag), "tasks": rows(Task, keep_id=True),
            "events": rows(TaskEvent), "notices": rows(Notification), "evidence": rows(Evidence)}


def test_evaluate_all_stores_and_does_exactly_what_county_by_county_does(app, db, sample):
    _scenario(_per_county)
    one_by_one = _snapshot()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(CountyEvaluation)) == 0

    summaries = []
    _scenario(lambda year: summaries.append(ops.evaluate_all(year)))
    at_once = _snapshot()

    # the scenario does what it is meant to: every county stored for both years, a reopened task, a flag, notices
    assert len(one_by_one["evaluations"]) == 20
    assert [f["detail"]["reopened_tasks"] for f in one_by_one["flags"]] and len(one_by_one["flags"]) == 1
    assert any(e["event"] == "reopen" and e["actor_id"] == "system" for e in one_by_one["events"])
    assert {n["kind"] for n in one_by_one["notices"]} >= {"indicators_ready", "slippage", "reopen"}
    for table, expected in one_by_one.items():
        got = at_once[table]
        assert len(got) == len(expected), table
        for want, have in zip(expected, got):
            if table == "evaluations":  # evaluate stores the engine's detailed result, evaluate_all the compact one
                assert_same(have.pop("result"), want.pop("result"))
            assert have == want, (table, {k: (want[k], have.get(k)) for k in want if have.get(k) != want[k]})
    # the summary says what happened
    first, slip = summaries[0], summaries[1]
    assert first["counties"] == 10 and first["errors"] == [] and first["ready"] > 0
    assert slip["reopened"] == one_by_one["flags"][0]["detail"]["reopened_tasks"] and len(slip["flags"]) == 1
    verdicts = {(e["unit_id"], e["year"]): e["passed"] for e in one_by_one["evaluations"]}
    codes = dict(db.session.execute(select(Unit.code, Unit.id)).all())
    assert all(verdicts[(codes[r["code"]], 2025)] == r["pass"] for r in slip["results"])
    assert summaries[2]["reopened"] == [] and summaries[2]["notices"] == 0  # 2025 again: nothing new
    assert summaries[3]["ready"] == 0 and summaries[3]["flags"] == []  # an older year acts on nothing


class Statements:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(_db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(_db.engine, "before_cursor_execute", self)


def test_statements_do_not_grow_with_the_number_of_counties(app, db, sample):
    few = [unit_named(name).id for name in ("楚雄市", "南华县", "姚安县")]

    def count(year: int, unit_ids) -> tuple[int, dict]:
        with Statements() as seen:
            summary = ops.evaluate_all(year, unit_ids=unit_ids)
            db.session.flush()
        db.session.rollback()
        return len(seen.statements), summary

    # 2024: stored, 可以办结 notices
    small, s_summary = count(2024, few)
    large, l_summary = count(2024, None)
    assert (s_summary["counties"], l_summary["counties"]) == (3, 10) and s_summary["ready"] > 0
    assert small == large, (small, large)
    # 2025 after a linked task was completed: also the slip (reopen, audit rows, flag, notices)
    ops.evaluate_all(2024)
    demo._complete_linked_task(_db.session.get(Unit, unit_named("南华县").id), "六", 2024)
    db.session.commit()
    small, s_summary = count(2025, few)
    large, l_summary = count(2025, None)
    assert len(s_summary["reopened"]) == len(l_summary["reopened"]) == 1 and len(l_summary["flags"]) == 1
    assert small == large, (small, large)
    # county by county it is a multiple of the counties
    with Statements() as seen:
        _per_county(2025)
    db.session.rollback()
    assert len(seen.statements) > 3 * large


def test_a_county_the_engine_refuses_is_reported_and_the_others_stored(app, db, chuxiong):
    ops.import_schools(xlsx(hand_checked_rows()), "a.xlsx", 2025)
    ops.import_schools(xlsx([school("5323020001", county="禄丰市")]), "b.xlsx", 2025)
    db.session.commit()
    from tracker.indicators.models import SchoolYear

    # a 完全中学 with primary pupils: the engine refuses the county (the importer would not let this in)
    row = db.session.scalar(select(SchoolYear).where(SchoolYear.unit_id == unit_named("禄丰市").id))
    row.school_type, row.senior_pupils = "完全中学", 300
    db.session.commit()
    summary = ops.evaluate_all(2025)
    assert [r["county"] for r in summary["results"]] == ["楚雄市"]
    assert [e["county"] for e in summary["errors"]] == ["禄丰市"] and "无法评估" in summary["errors"][0]["error"]
    assert db.session.scalar(select(func.count()).select_from(CountyEvaluation)) == 1


def test_cli_evaluate_all_and_the_nightly_job(app, db, chuxiong):
    ops.import_schools(xlsx(hand_checked_rows()), "a.xlsx", 2025)
    enter_all(unit_named("楚雄市"), 2025)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["evaluate", "--all", "--year", "2025", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["counties"] == 1 and out["results"] == [{"code": "532301", "county": "楚雄市", "pass": True,
                                                        "assessable": True}]
    assert runner.invoke(args=["evaluate", "--year", "2025"]).exit_code == 1  # a county or --all
    assert db.session.scalar(select(CountyEvaluation.passed)) is True
    db.session.execute(CountyEvaluation.__table__.delete())
    db.session.commit()
    summary = ops.reevaluate_all()  # the scheduler's indicators job: the latest year with school data
    assert (summary["year"], summary["counties"], summary["passed"]) == (2025, 1, 1) and "results" not in summary
    assert db.session.scalar(select(func.count()).select_from(CountyEvaluation)) == 1


def test_two_evaluations_of_one_county_year_at_once_both_succeed(app, db, chuxiong, make_user, monkeypatch):
    """Both read "no stored evaluation" before either writes; the second recomputes the first one's row in
    place (INSERT … ON CONFLICT DO UPDATE) instead of failing on the unique key (unit_id, year)."""
    make_user("cx", "unit", "532301")
    ops.import_schools(xlsx(hand_checked_rows()), "a.xlsx", 2025)
    enter_all(unit_named("楚雄市"), 2025)
    db.session.commit()
    unit_id = unit_named("楚雄市").id
    db.session.remove()
    barrier = threading.Barrier(2, timeout=10)
    read = store.get_evaluation

    def read_then_wait(*args):
        row = read(*args)
        barrier.wait()  # both have looked before either writes
        return row

    monkeypatch.setattr(store, "get_evaluation", read_then_wait)
    outcomes: list[str] = []

    def evaluate() -> None:
        with app.app_context():
            session = _db.session
            try:
                ops.evaluate(session.get(Unit, unit_id), 2025)
                session.commit()
                outcomes.append("stored")
            except Exception as exc:  # noqa: BLE001 — an IntegrityError or 'database is locked' must show here
                session.rollback()
                outcomes.append(f"error:{exc!r}")
            finally:
                session.remove()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes == ["stored", "stored"], outcomes
    rows = db.session.scalars(select(CountyEvaluation)).all()
    assert len(rows) == 1 and rows[0].passed
    # the 可以办结 notices of the two went out once (same user, channel and key: skipped, not raised)
    ready = db.session.execute(select(Notification.user_id, Notification.key)
                               .where(Notification.kind == "indicators_ready")).all()
    assert ready and len(ready) == len(set(ready))


def test_two_evaluations_of_all_counties_at_once_store_their_own_results_and_leave_no_staged_rows(app, db, sample,
                                                                                                 monkeypatch):
    """On PostgreSQL both stage their results in county_evaluations_in before either upserts; each upserts
    only its own rows (the other's are not committed, so not visible) and deletes them in the same round
    trip. Two evaluations of different counties at once: each county stored once, nothing left staged."""
    from tracker.indicators import bulk
    from tracker.indicators.models import county_evaluations_in

    first, second = unit_named("楚雄市").id, unit_named("南华县").id
    db.session.remove()
    barrier = threading.Barrier(2, timeout=10)
    store_results = bulk._Results.store

    def staged_then_wait(self):
        barrier.wait()  # both have COPYed their rows; neither has upserted
        return store_results(self)

    outcomes: dict[int, object] = {}

    def evaluate(unit_id: int) -> None:
        with app.app_context():
            session = _db.session
            try:
                summary = ops.evaluate_all(2025, unit_ids=[unit_id])
                session.commit()
                outcomes[unit_id] = summary["counties"]
            except Exception as exc:  # noqa: BLE001 — shown in the assertion
                session.rollback()
                outcomes[unit_id] = repr(exc)
            finally:
                session.remove()

    monkeypatch.setattr(bulk._Results, "store", staged_then_wait)
    threads = [threading.Thread(target=evaluate, args=(unit_id,)) for unit_id in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes == {first: 1, second: 1}, outcomes
    stored = db.session.execute(select(CountyEvaluation.unit_id, func.count()).group_by(CountyEvaluation.unit_id)).all()
    assert sorted(stored) == sorted([(first, 1), (second, 1)])
    assert db.session.scalar(select(func.count()).select_from(county_evaluations_in)) == 0
