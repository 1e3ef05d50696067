"""Indicators: school data upload, county evaluations (read and re-run), county flags.

Wraps tracker.indicators.operations / store, the same calls the indicator pages make. Visibility
follows the pages: overseers see every county, a county's own unit user only that county (others 404);
flags are for overseers.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from tracker.api import bp, serialize
from tracker.api.errors import ApiError
from tracker.api.openapi import Param, array, binary_body, boolean, integer, obj, operation, path_id, string
from tracker.clock import today
from tracker.errors import ServiceError
from tracker.extensions import db
from tracker.indicators import operations as ind_ops
from tracker.indicators import store
from tracker.indicators.models import CountyEvaluation, CountyFlag
from tracker.indicators.schooldata import SchoolDataInvalid
from tracker.units.models import Unit

COUNTY_CODE = Param("code", "path", string(32, pattern=r"^[0-9A-Za-z_.-]{1,32}$"), True, _l("县市行政区划代码，如 532301"))
YEAR = Param("year", "path", integer(2000, 2100), True, _l("评估年度"))
OVERSEERS = ind_ops.OVERSEERS


def _county(call, code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code, Unit.kind == "county"))
    if unit is None or not ind_ops.can_view_county(call.user, unit):
        raise ApiError(404, _("找不到该县市，或您无权查看。"))
    return unit


def _detail(row: CountyEvaluation, unit: Unit) -> dict:
    result = store.detailed(row) or {}
    out = serialize.evaluation(row, unit)
    out.update(result=serialize.clean(result), gaps=serialize.clean(store.gap_list(result, store.current_catalog())),
               sample=ind_ops.is_sample(unit, row.year))
    effects = getattr(row, "effects", None)
    if effects is not None:
        out["effects"] = serialize.clean(effects)
    return out


@operation(bp, "GET", "/counties", summary=_l("县市及其最新督导评估结论（按权限范围）"), tag="indicators",
           response=obj(["items"], items=array(serialize.COUNTY)))
def counties(call):
    rows = store.overview()
    return {"items": [{"unit": serialize.unit(r["unit"]),
                       "evaluation": serialize.evaluation(r["evaluation"], r["unit"]) if r["evaluation"] else None,
                       "open_flags": r["open_flags"]}
                      for r in rows if ind_ops.can_view_county(call.user, r["unit"])]}


@operation(bp, "GET", "/counties/{code}/evaluations", summary=_l("县市历年督导评估结论"), tag="indicators",
           params=[COUNTY_CODE], response=obj(["items"], items=array(serialize.EVALUATION)))
def county_evaluations(call, code: str):
    unit = _county(call, code)
    return {"items": [serialize.evaluation(ev, unit) for ev in store.evaluations_of(unit.id)]}


@operation(bp, "GET", "/counties/{code}/evaluations/{year}", summary=_l("县市某年督导评估：完整结果与差距清单"),
           tag="indicators", params=[COUNTY_CODE, YEAR], response=serialize.EVALUATION_DETAIL)
def county_evaluation(call, code: str, year: int):
    unit = _county(call, code)
    row = store.get_evaluation(unit.id, year)
    if row is None:
        raise ApiError(404, _("%(county)s%(year)d年尚无督导评估结果。", county=unit.name, year=year))
    return _detail(row, unit)


@operation(bp, "POST", "/counties/{code}/evaluations/{year}", summary=_l("重新评估县市某年（管理员、督学、本县市经办人）"),
           tag="indicators", params=[COUNTY_CODE, YEAR], response=serialize.EVALUATION_DETAIL, errors=(409,),
           description=_l("按已导入的学校数据和县级指标重新计算；关联任务随之提示可以办结或因滑坡重新打开（effects）。"))
def county_evaluate(call, code: str, year: int):
    unit = _county(call, code)
    row = ind_ops.evaluate(unit, year, call.user)
    db.session.commit()
    return _detail(row, unit)


IMPORT_BODY = obj(["file", "year"], file=binary_body(_l("学校数据文件（.xlsx 或 .csv，见页面上的模板）")),
                  year=integer(2000, 2100, description=_l("数据年度")),
                  evaluate=boolean())


@operation(bp, "POST", "/schools/imports", summary=_l("导入学校数据并重新评估涉及的县市（管理员、县市经办人）"),
           tag="indicators", multipart=IMPORT_BODY, status=201, response=serialize.SCHOOL_IMPORT,
           max_bytes_key="SCHOOL_DATA_MAX_BYTES",
           description=_l("整份文件校验通过才导入（一个事务）；有误时 422，details.problems 列出每一处（行、列、值、原因）。"))
def school_import(call):
    user = call.user
    if not (user.has_role("admin") or (user.has_role("unit") and user.unit is not None
                                       and user.unit.kind_value == "county")):
        raise ApiError(403, _("只有系统管理员和县市经办人可以导入学校数据。"))
    upload = call.body["file"]
    try:
        result = ind_ops.import_schools(upload.read(), upload.filename or "", call.body["year"], user,
                                        evaluate_after=call.body.get("evaluate", True))
    except SchoolDataInvalid as exc:
        raise ApiError(422, ngettext("学校数据有 %(num)d 处错误，未导入。", "学校数据有 %(num)d 处错误，未导入。", len(exc.problems)),
                       details={"problems": serialize.clean(exc.to_list())}) from None
    db.session.commit()
    return serialize.clean(result), 201


FLAG_KINDS = ["overdue", "slippage", "milestone", "accountability"]


@operation(bp, "GET", "/flags", summary=_l("县市督办标记（逾期、滑坡、目标节点、待问责），未处理的在前（督学、领导小组、管理员）"),
           tag="supervision",
           params=[Param("open", "query", boolean(), False, _l("只看未处理的")),
                   Param("kind", "query", string(enum=FLAG_KINDS), False, _l("标记类别"))],
           response=obj(["items"], items=array(serialize.FLAG)),
           description=_l("与“督办标记”页面相同：读取前按当前日期刷新计算型标记（逾期、目标节点、待问责）。"))
def flags(call):
    from tracker.supervision import flags as flag_store

    if not call.user.has_role(*OVERSEERS):
        raise ApiError(403, _("只有督学、领导小组和系统管理员可以查看县市督办标记。"))
    try:  # the page does the same; a concurrent refresh winning the race is not an error for a reader
        flag_store.refresh(today())
        db.session.commit()
    except (ServiceError, StaleDataError):
        db.session.rollback()
    rows = store.all_flags()
    if call.query.get("open"):
        rows = [f for f in rows if f.resolved_at is None]
    if call.query.get("kind"):
        rows = [f for f in rows if f.kind == call.query["kind"]]
    return {"items": [_flag(f) for f in rows]}


def _flag(f: CountyFlag) -> dict:
    from tracker.supervision import flags as flag_store

    return {**serialize.flag(f), "kind_label": flag_store.KIND_LABELS.get(f.kind, f.kind),
            "reasons": [str(r) for r in flag_store.reasons(f.kind, f.detail or {}, f.year)]}


@operation(bp, "POST", "/flags/{flag_id}/resolve", summary=_l("把县市督办标记设为已处理（督学）"), tag="supervision",
           params=[path_id("flag_id")], body=obj([], closed=True, note=string(1000, description=_l("处理说明"))),
           response=serialize.FLAG, description=_l("已处理过的标记再次处理为 422。"))
def flag_resolve(call, flag_id: int):
    from tracker.supervision import flags as flag_store

    if not call.user.has_role("supervisor"):
        raise ApiError(403, _("只有督学可以将督办标记设为已处理。"))
    flag = db.session.get(CountyFlag, flag_id)
    if flag is None:
        raise ApiError(404, _("找不到该标记。"))
    flag_store.resolve(flag, call.user, "manual", call.body.get("note") or "")
    db.session.commit()
    return _flag(flag)
