"""Chart data for a county's resource-allocation indicators (R1–R7): each indicator's inter-school
coefficient of variation against its limit, primary and junior separately, for one year and across
every evaluated year. Figures come from the stored evaluation results (the same numbers the tables
print); drawing is ``tracker/dashboard/svg.py``.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from tracker.dashboard import svg
from tracker.extensions import db
from tracker.indicators.catalog import LEVELS, RESOURCE_CODES, Catalog
from tracker.indicators.models import CountyEvaluation


def _cvs(result: dict[str, Any] | None, level: str) -> dict[str, dict[str, Any]]:
    """The level's stored CVs: code → {cv, limit, pass, …}; {} when the level had no school."""
    return ((result or {}).get("levels", {}).get(level) or {}).get("indicators") or {}


def _names(catalog: Catalog) -> dict[str, str]:
    return {i.code: i.name for i in catalog.indicators}


def year_bars(result: dict[str, Any] | None, catalog: Catalog) -> dict[str, list[svg.LimitBar]]:
    """Per level, one bar per resource indicator (R1–R7 order): CV, limit, over the limit or not."""
    names = _names(catalog)
    out: dict[str, list[svg.LimitBar]] = {}
    for level in LEVELS:
        cvs = _cvs(result, level)
        bars = [svg.LimitBar(code, cvs[code]["cv"], cvs[code]["limit"], cvs[code]["pass"] is False, names.get(code, ""))
                for code in RESOURCE_CODES if code in cvs]
        if bars:
            out[level] = bars
    return out


def history(unit_id: int) -> list[tuple[int, dict[str, Any]]]:
    """Every evaluated year of the county with its stored result, oldest first: one statement."""
    rows = db.session.execute(select(CountyEvaluation.year, CountyEvaluation.result)
                              .where(CountyEvaluation.unit_id == unit_id).order_by(CountyEvaluation.year))
    return [(year, result) for year, result in rows]


def trend_panels(years: list[tuple[int, dict[str, Any]]], catalog: Catalog) -> dict[str, list[svg.Panel]]:
    """Per level, one panel per resource indicator with a point for each year in which it was evaluated."""
    names = _names(catalog)
    out: dict[str, list[svg.Panel]] = {}
    for level in LEVELS:
        panels = []
        for code in RESOURCE_CODES:
            points = [svg.Point(str(year), c["cv"], c["limit"], c["pass"] is False)
                      for year, result in years if (c := _cvs(result, level).get(code))]
            if points:
                panels.append(svg.Panel(code, points, names.get(code, "")))
        if panels:
            out[level] = panels
    return out


def _year_title(level: str, county: str, year: int) -> str:
    if level == "primary":
        return _("%(county)s %(year)d年小学各项指标校际差异系数与限值", county=county, year=year)
    return _("%(county)s %(year)d年初中各项指标校际差异系数与限值", county=county, year=year)


def _trend_title(level: str, county: str) -> str:
    if level == "primary":
        return _("%(county)s 小学校际差异系数历年趋势", county=county)
    return _("%(county)s 初中校际差异系数历年趋势", county=county)


def year_charts(unit, year: int, result: dict[str, Any] | None, catalog: Catalog) -> dict[str, Markup]:
    """The county page's charts: level → SVG of R1–R7 CVs against their limits for `year`."""
    return {level: svg.limit_bars(bars, uid=f"cv-{level}", title=_year_title(level, unit.name, year))
            for level, bars in year_bars(result, catalog).items()}


def trend_charts(unit, catalog: Catalog) -> dict[str, Markup]:
    """The trend page's charts: level → small multiples of each indicator's CV per evaluated year."""
    return {level: svg.small_multiples(panels, uid=f"trend-{level}", title=_trend_title(level, unit.name))
            for level, panels in trend_panels(history(unit.id), catalog).items()}
