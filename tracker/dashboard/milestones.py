"""Progress toward the plan's milestones: the share of counties whose latest evaluation passes."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.plans.models import Plan


def passing_counties(plan: Plan) -> set[int] | None:
    """Counties whose latest stored evaluation passes; None when evaluations are not available."""
    try:
        from tracker.indicators.models import CountyEvaluation
    except ImportError:
        return None
    latest = (select(CountyEvaluation.unit_id, func.max(CountyEvaluation.year).label("year"))
              .group_by(CountyEvaluation.unit_id).subquery())
    rows = db.session.execute(select(CountyEvaluation.unit_id).join(
        latest, (latest.c.unit_id == CountyEvaluation.unit_id) & (latest.c.year == CountyEvaluation.year))
        .where(CountyEvaluation.passed.is_(True)))
    return {r[0] for r in rows}


def plan_progress(plan: Plan, today: date) -> dict:
    counties = [t.unit_id for t in plan.schedule]
    passing = passing_counties(plan)
    share = (len(passing & set(counties)) / len(counties)) if passing is not None and counties else None
    milestones = [{"due": m.due, "target": m.min_share, "actual": share,
                   "met": share is not None and share >= m.min_share, "missed": today > m.due and not (share is not None and share >= m.min_share),
                   "text": m.text}
                  for m in plan.milestones if m.min_share is not None]
    return {"counties": len(counties), "passing": len(passing & set(counties)) if passing is not None else None,
            "share": share, "milestones": milestones}
