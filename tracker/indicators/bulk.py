"""Every county of a year evaluated at once: the nightly job, `flask evaluate --all`, the benchmark.

`operations.evaluate` runs the engine on one county and stores the detailed result. `evaluate_all` stores
the compact result (tracker/indicators/results.py: the same verdicts and CVs, counts instead of school lists)
and has the same effects on linked tasks (可以办结 notices, reopened tasks, slippage flags) in a fixed number
of statements, whatever the number of counties:

1. the counties with the (year, passed) of their stored evaluations; 2. their county-level entries of the
   year; 3. their open or completed tasks whose measure links indicators;
4. ONE aggregate over the year's school rows (tracker/indicators/sqlengine.py; on PostgreSQL the
   transaction's settings travel in the same round trip): per county and level the enrolment-weighted sums
   of R1–R7, the schools failing the 6-of-7 rule, G4/G5 — no school row reaches Python; a county holding a
   school the engine would refuse is read (one query per such county) and given to the engine, which names
   the school and the reason;
5. on PostgreSQL one COPY into the staging table county_evaluations_in, row by row as counties are judged;
6. the stored results a slip is judged against (only for counties where a linked measure now fails);
7. one ``INSERT … ON CONFLICT (unit_id, year) DO UPDATE`` of every result (on PostgreSQL from the staging
   table, whose rows are deleted in the same round trip);
and only when there is something to do: the recipients (2), the reopened tasks (load, update, audit
rows), the slippage flags (insert, load, update) and one insert of every notice.
"""
from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import orjson
from flask_babel import gettext as _
from sqlalchemy import Text, bindparam, cast, select, tuple_
from sqlalchemy.orm import joinedload

from tracker.auth.models import User
from tracker.clock import utcnow
from tracker.errors import Forbidden
from tracker.extensions import db
from tracker.indicators import links, sqlengine, store
from tracker.indicators import operations as ops
from tracker.indicators.catalog import Catalog
from tracker.indicators.engine import evaluate_county
from tracker.indicators.models import CountyEntry, CountyEvaluation, CountyFlag, county_evaluations_in
from tracker.indicators.results import compact
from tracker.notices.outbox import insert_ignore, insert_rows, notice_rows
from tracker.plans.models import Measure, Section
from tracker.tasks.models import Task, TaskEvent
from tracker.units.models import Unit

#: PostgreSQL, for this transaction: no JIT (compiling the one-off aggregate costs more than it saves); room to
#: keep its table of school parts in memory
_PG_SETTINGS = "SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"
#: a staged result's columns, in the order of its row
_STAGED = tuple(c.name for c in county_evaluations_in.c)


@dataclass
class _Linked:
    measure: Any  # .id .number .title .label
    codes: list[str]
    tasks: list[tuple[int, str]] = field(default_factory=list)  # (task id, status) in the per-county order
    now: bool | None = None
    failing: list[str] = field(default_factory=list)


@dataclass
class _County:
    unit: Any  # .id .code .name
    entries: dict[str, Any] = field(default_factory=dict)
    years: dict[int, bool] = field(default_factory=dict)  # stored evaluations: year → passed
    linked: dict[int, _Linked] = field(default_factory=dict)  # measure id → its linked tasks
    json: str | None = None
    passed: bool = False
    assessable: bool = False
    aspects: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _dumps(result: dict[str, Any]) -> str:
    """JSON text of a result: orjson (a few µs for a county's result, several times json.dumps)."""
    return orjson.dumps(result).decode()


def _judge(county: _County, result: dict[str, Any]) -> None:
    county.json = _dumps(result)
    county.passed, county.assessable = result["pass"] is True, bool(result.get("assessable"))
    county.aspects = {a: body.get("pass") for a, body in result.get("aspects", {}).items()}
    for linked in county.linked.values():
        linked.now = links.codes_verdict(result, linked.codes)
        if linked.now is False:
            linked.failing = [c for c, v in links.codes_verdicts(result, linked.codes).items() if v is False]


def _cannot_evaluate(county: _County, year: int, exc: ValueError) -> None:
    county.error = _("%(county)s%(year)s年的数据无法评估：%(error)s", county=county.unit.name, year=year, error=str(exc))


def _measure(number: str, title: str, measure_id: int) -> SimpleNamespace:
    ns = SimpleNamespace(id=measure_id, number=number, title=title)
    ns.label = Measure.label.fget(ns)
    return ns


def evaluate_all(year: Any, actor=None, *, catalog: Catalog | None = None, unit_ids=None) -> dict[str, Any]:
    """Evaluate every county that has school data for the year (or those of `unit_ids`); flushes, never commits.

    Returns a summary: counties evaluated, their verdicts, counties whose data the engine refused
    (``errors``, nothing stored for them), notices sent, tasks reopened, flags, and seconds per phase.
    """
    clock = time.perf_counter
    t0 = clock()
    year = ops.check_year(year)
    catalog = catalog or store.current_catalog()
    revision = store.catalog_revision()

    scope = select(Unit.id).where(Unit.kind == "county")
    if unit_ids is not None:
        scope = scope.where(Unit.id.in_(list(unit_ids)))
    # the counties with the (year, passed) of their stored evaluations, one row per evaluation
    counties: dict[int, _County] = {}
    for unit_id, code, name, y, passed in db.session.execute(
            select(Unit.id, Unit.code, Unit.name, CountyEvaluation.year, CountyEvaluation.passed)
            .outerjoin(CountyEvaluation, CountyEvaluation.unit_id == Unit.id).where(Unit.id.in_(scope))):
        county = counties.get(unit_id)
        if county is None:
            county = counties[unit_id] = _County(SimpleNamespace(id=unit_id, code=code, name=name))
        if y is not None:
            county.years[y] = passed
    if actor is not None:
        refused = [c.unit.name for c in counties.values() if not ops.can_act_for_county(actor, c.unit)]
        if refused:
            raise Forbidden(_("只有系统管理员、督学或本县市经办人可以重新评估（%(counties)s）。",
                              counties=_("、").join(refused[:5])))

    county_scope = {c.code for c in catalog.indicators if c.scope == "county"}
    for unit_id, code, value in db.session.execute(
            select(CountyEntry.unit_id, CountyEntry.code, CountyEntry.value)
            .where(CountyEntry.year == year, CountyEntry.unit_id.in_(scope))):
        if code in county_scope:
            counties[unit_id].entries[code] = value
    # the tasks record_evaluation would look at, for counties whose latest evaluated year this is
    for task_id, unit_id, status, measure_id, number, title, codes in db.session.execute(
            select(Task.id, Task.unit_id, Task.status, Task.measure_id, Measure.number, Measure.title, Measure.indicators)
            .join(Measure, Measure.id == Task.measure_id).join(Section, Section.id == Measure.section_id)
            .where(Task.unit_id.in_(scope), Task.status.in_(ops.READY_STATES + ("completed",)),
                   cast(Measure.indicators, Text).not_in(["[]", "null"]))
            .order_by(Task.unit_id, Measure.plan_id, Section.position, Measure.position, Task.id)):
        county = counties[unit_id]
        if not codes or any(y > year for y in county.years):
            continue
        linked = county.linked.get(measure_id)
        if linked is None:
            linked = county.linked[measure_id] = _Linked(_measure(number, title, measure_id), list(codes))
        linked.tasks.append((task_id, status))
    t_load = clock()

    # every county's sums and counts in one aggregate (on PostgreSQL with this transaction's settings in the
    # same round trip); the engine only for counties it would refuse
    evaluated: list[_County] = []
    is_pg = db.session.get_bind().dialect.name == "postgresql"
    rows = sqlengine.county_sums(catalog, year, None if unit_ids is None else list(counties),
                                 _PG_SETTINGS if is_pg else "")
    t_sql = clock()
    with_data = [(counties[unit_id], row) for unit_id, row in rows.items() if unit_id in counties]
    for county in [c for c, row in with_data if row["bad"]]:
        # the engine names the school and the reason (a query per county with such a school, before the COPY)
        try:
            result = compact(evaluate_county(county.unit.name, year, ops.school_rows(county.unit, year),
                                             county.entries, catalog))
        except ValueError as exc:
            _cannot_evaluate(county, year, exc)
            continue
        _judge(county, result)
        evaluated.append(county)
    results = _Results(year, revision, is_pg)
    with results:
        for county in evaluated:
            results.add(county)
        for county, row in with_data:
            if row["bad"]:
                continue
            try:
                result = sqlengine.county_result(county.unit.name, year, row, county.entries, catalog)
            except ValueError as exc:
                _cannot_evaluate(county, year, exc)
                continue
            _judge(county, result)
            evaluated.append(county)
            results.add(county)
    t_engine = clock()

    # what a slip is judged against: the replaced result of the same year and the latest earlier year
    baseline_keys = []
    for county in evaluated:
        if any(lk.now is False for lk in county.linked.values()):
            earlier = max((y for y in county.years if y < year), default=None)
            baseline_keys += [(county.unit.id, y) for y in (year, earlier) if y in county.years]
    baselines: dict[tuple[int, int], dict] = {}
    if baseline_keys:
        baselines = {(u, y): r for u, y, r in db.session.execute(
            select(CountyEvaluation.unit_id, CountyEvaluation.year, CountyEvaluation.result)
            .where(tuple_(CountyEvaluation.unit_id, CountyEvaluation.year).in_(baseline_keys)))}

    results.store()
    t_write = clock()
    effects = _effects(evaluated, year, baselines)
    t_effects = clock()
    return {
        "year": year, "catalog_version": revision, "counties": len(evaluated),
        "passed": sum(c.passed for c in evaluated), "assessable": sum(c.assessable for c in evaluated),
        "without_data": sorted(c.unit.code for c in counties.values() if c.json is None and c.error is None),
        "errors": [{"code": c.unit.code, "county": c.unit.name, "error": c.error}
                   for c in sorted(counties.values(), key=lambda c: c.unit.code) if c.error],
        "results": [{"code": c.unit.code, "county": c.unit.name, "pass": c.passed, "assessable": c.assessable}
                    for c in sorted(evaluated, key=lambda c: c.unit.code)],
        **effects,
        "seconds": {"load": round(t_load - t0, 4), "aggregate": round(t_sql - t_load, 4),
                    "results": round(t_engine - t_sql, 4), "write": round(t_write - t_engine, 4),
                    "effects": round(t_effects - t_write, 4), "total": round(t_effects - t0, 4)},
    }


class _Results:
    """Where judged counties go. On PostgreSQL each is COPYed into the staging table county_evaluations_in as it
    is judged (the driver formats rows in C and the server parses one county's row while the next is
    computed; an executemany of kB-sized JSON texts cost ~75 µs a row), then `store` upserts them all from
    there in one statement and deletes the staged rows in the same round trip (no other transaction ever
    sees them); on SQLite `store` runs one executemany upsert."""

    def __init__(self, year: int, revision: int, is_pg: bool):
        self.year, self.revision, self.is_pg, self.now = year, revision, is_pg, utcnow()
        self.rows: list[tuple] = []  # SQLite's, for the executemany
        self.count = 0
        self._open = ExitStack()

    def __enter__(self) -> _Results:
        if self.is_pg:
            cursor = self._open.enter_context(db.session.connection().connection.cursor())
            self._copy = self._open.enter_context(
                cursor.copy(f"COPY county_evaluations_in ({', '.join(_STAGED)}) FROM STDIN"))
        return self

    def add(self, c: _County) -> None:
        row = (c.unit.id, self.year, c.json, c.passed, c.assessable, self.revision, self.now)  # as _STAGED
        self.count += 1
        if self.is_pg:
            self._copy.write_row(row)
        else:
            self.rows.append(row)

    def __exit__(self, *exc) -> None:
        self._open.__exit__(*exc)

    def store(self) -> None:
        """One upsert of every evaluation (`store.upsert_evaluation_stmt`); ORM rows already in the session are
        expired."""
        if not self.count:
            return
        if self.is_pg:
            with db.session.connection().connection.cursor() as cursor:
                cursor.execute(_pg_store_sql(db.session.get_bind().dialect))
        else:  # the result is JSON text already: bound as text, not serialised again
            params = {name: bindparam(f"staged_{name}", type_=Text() if name == "result" else column.type)
                      for name, column in county_evaluations_in.c.items()}
            db.session.execute(store.upsert_evaluation_stmt().values(params),
                               [{f"staged_{name}": value for name, value in zip(_STAGED, row)} for row in self.rows])
        for obj in list(db.session.identity_map.values()):
            if isinstance(obj, CountyEvaluation):
                db.session.expire(obj)


_PG_STORE: dict[str, str] = {}


def _pg_store_sql(dialect) -> str:
    """The upsert from the staging table and the DELETE of the staged rows, one text without parameters
    (sent in one round trip), built and compiled once."""
    sql = _PG_STORE.get(dialect.name)
    if sql is None:
        stmt = store.upsert_evaluation_stmt().from_select(_STAGED, select(county_evaluations_in))
        sql = _PG_STORE[dialect.name] = f"{stmt.compile(dialect=dialect)}; DELETE FROM county_evaluations_in"
    return sql


def _effects(evaluated: list[_County], year: int, baselines: dict[tuple[int, int], dict]) -> dict[str, Any]:
    """record_evaluation's effects for every county at once (same notices, reopened tasks and flags)."""
    out: dict[str, Any] = {"ready": 0, "reopened": [], "flags": [], "notices": 0}
    plans = []  # (county, ready [(linked, task ids)], reopen [(linked, task ids, comment)], slipped, overall_before)
    for county in sorted(evaluated, key=lambda c: c.unit.code):
        if any(y > year for y in county.years):
            continue
        earlier = max((y for y in county.years if y < year), default=None)
        same = year in county.years
        before_years = [y for y in (year if same else None, earlier) if y is not None]
        ready, reopen, slipped = [], [], []
        for linked in county.linked.values():
            if linked.now is True:
                ids = [tid for tid, status in linked.tasks if status in ops.READY_STATES]
                if ids:
                    ready.append((linked, ids))
            elif linked.now is False:
                passed_in = next((y for y in before_years
                                  if links.codes_verdict(baselines.get((county.unit.id, y)), linked.codes) is True), None)
                if passed_in is None:
                    continue
                ids = [tid for tid, status in linked.tasks if status == "completed"]
                comment = ops.reopen_comment(county.unit, year, passed_in, linked.failing)
                reopen.append((linked, ids, comment))
                slipped.append({"measure": linked.measure.number, "measure_title": linked.measure.title,
                                "codes": linked.codes, "failing": linked.failing, "passed_in": passed_in,
                                "reopened_tasks": ids})
        overall_before = next((y for y in before_years if county.years[y] is True), None)
        overall_slip = overall_before is not None and not county.passed and county.assessable
        if ready or reopen or slipped or overall_slip:
            plans.append((county, ready, reopen, slipped if (slipped or overall_slip) else None, overall_before))
    if not plans:
        return out

    supervisors = list(db.session.scalars(select(User.id).where(User.role.in_(("supervisor",)), User.active.is_(True))
                                          .order_by(User.id)))
    unit_users: dict[int, list[int]] = {}
    if any(plan[1] or plan[2] for plan in plans):
        for uid, unit_id in db.session.execute(
                select(User.id, User.unit_id).where(User.unit_id.in_([p[0].unit.id for p in plans]),
                                                    User.active.is_(True)).order_by(User.id)):
            unit_users.setdefault(unit_id, []).append(uid)

    reopened = _reopen_all([(plan[0], item) for plan in plans for item in plan[2]])
    flags = _flag_all([(plan[0], plan[3], plan[4]) for plan in plans if plan[3] is not None], year)

    rows: list[dict] = []
    now = utcnow()
    for county, ready, reopen, slipped, _before in plans:
        unit = county.unit
        users = unit_users.get(unit.id, [])
        for linked in county.linked.values():  # measure order, as record_evaluation sends them
            item = next((ids for lk, ids in ready if lk is linked), None)
            if item is not None:
                rows += notice_rows(users + supervisors, now=now,
                                    **ops.ready_notice(unit, year, linked.measure, linked.codes, item[0]))
                out["ready"] += 1
            for task, notice in reopened.get((unit.id, linked.measure.id), []):
                rows += notice_rows(unit_users.get(task.unit_id, []), now=now, **notice)
        if slipped is not None:
            rows += notice_rows(supervisors, now=now, **ops.slippage_notice(unit, year, slipped, flags[unit.id]))
    out["notices"] = insert_rows(rows)
    out["reopened"] = [pair[0].id for items in reopened.values() for pair in items]
    out["flags"] = sorted(flags.values())
    return out


def _reopen_all(items: list[tuple[_County, tuple]]) -> dict[tuple[int, int], list[tuple[Task, dict]]]:
    """Reopen the completed tasks of slipped measures through the lifecycle: one load, one flush.

    Returns (unit id, measure id) → [(task, its 重新打开 notice)].
    """
    from tracker.tasks.operations import MAX_TEXT, flush_or_conflict, lifecycle_notice, system_user
    from workflows import TransitionContext, lifecycle

    wanted = {tid for _county, (_linked, ids, _comment) in items for tid in ids}
    if not wanted:
        return {}
    system = system_user()
    tasks = {t.id: t for t in db.session.scalars(select(Task).where(Task.id.in_(list(wanted)))
                                                 .options(joinedload(Task.measure), joinedload(Task.unit)))}
    done: list[tuple[Task, str]] = []
    for _county, (_linked, ids, comment) in items:
        comment = comment.strip()[:MAX_TEXT]  # as fire() keeps it
        for tid in ids:
            task = tasks[tid]
            before_ladder = task.ladder
            lifecycle.fire(task, "reopen", TransitionContext(role=system.role.value, actor_unit_id=system.unit_id,
                                                             owner_unit_id=task.unit_id, comment=comment))
            task.completed_at = None
            event = TaskEvent(task_id=task.id, actor_id=system.id, event="reopen", from_status="completed",
                              to_status=task.status, from_ladder=before_ladder, to_ladder=task.ladder,
                              comment=comment, data={}, created_at=utcnow())
            db.session.add(event)
            task.updated_at = event.created_at
            done.append((task, comment))
    flush_or_conflict()  # the version column guards every task, as fire() does
    out: dict[tuple[int, int], list[tuple[Task, dict]]] = {}
    for task, comment in done:
        out.setdefault((task.unit_id, task.measure_id), []).append((task, lifecycle_notice(task, "reopen", system, comment)))
    return out


def _flag_all(items: list[tuple[_County, list[dict], int | None]], year: int) -> dict[int, int]:
    """One slippage CountyFlag per county (insert, or update an open one); returns unit id → flag id."""
    if not items:
        return {}
    details = {}
    for county, slipped, overall_before in items:
        details[county.unit.id] = ops.slippage_detail(
            year, {"pass": county.passed, "aspects": {a: {"pass": p} for a, p in county.aspects.items()}},
            overall_before, slipped)
    unit_ids = list(details)
    query = select(CountyFlag).where(CountyFlag.kind == ops.SLIPPAGE, CountyFlag.year == year,
                                     CountyFlag.unit_id.in_(unit_ids))
    existing = {f.unit_id: f for f in db.session.scalars(query)}
    new = [{"unit_id": uid, "kind": ops.SLIPPAGE, "year": year, "detail": detail, "created_at": utcnow()}
           for uid, detail in details.items() if uid not in existing]
    if new:  # ON CONFLICT DO NOTHING: an evaluation running at the same time may insert one first
        db.session.execute(insert_ignore(CountyFlag.__table__), new)
        inserted = {f.unit_id: f for f in db.session.scalars(query.where(CountyFlag.unit_id.in_([r["unit_id"] for r in new])))}
        for uid, flag in inserted.items():
            if flag.detail != details[uid]:
                existing[uid] = flag  # someone else's: merged below
        flags = {**inserted}
    else:
        flags = {}
    for uid, flag in existing.items():
        if flag.resolved_at is None:
            detail = details[uid]
            detail["reopened_tasks"] = sorted(set(flag.detail.get("reopened_tasks", [])) | set(detail["reopened_tasks"]))
            flag.detail = detail
        flags[uid] = flag
    db.session.flush()
    return {uid: flag.id for uid, flag in flags.items()}
