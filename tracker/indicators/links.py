"""Measure ↔ indicator links: whether a county's latest evaluation passes the linked indicators."""
from __future__ import annotations


def county_indicators_pass(unit_id: int, codes: list[str]) -> bool | None:
    """None while no evaluation of the county is stored; replaced by the evaluation store."""
    return None
