"""The indicator gate of a task: may it be submitted and verified, judged by its county's latest evaluation?"""
from __future__ import annotations


def indicators_ok(task) -> bool | None:
    """None when the task's measure links no indicators (nothing to check).

    Until the county evaluation tables exist there is no evaluation to consult, so linked tasks are
    not gated either; see tracker.indicators.links once evaluations are stored.
    """
    # a rectification task is judged by its own evidence, not by the measure's indicators
    if getattr(task, "kind", "plan") == "rectification" or not task.measure.indicators or task.unit.kind_value != "county":
        return None
    from tracker.indicators import links

    return links.county_indicators_pass(task.unit_id, task.measure.indicators)
