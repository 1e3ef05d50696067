"""Measure ↔ indicator links: do a county's indicators linked to a measure pass in an evaluation?

A measure lists indicator codes (``indicators: [R4, R5]`` in the plan file). A group code names all its
parts (G11 = G11a + G11b, Q9 = Q9a + Q9b). Judged on one stored evaluation result (the engine's JSON):

- R1–R7 (resource allocation), for each school level the county has (小学, 初中): the indicator's
  inter-school coefficient of variation is within its limit, AND no school falls short of that
  indicator in a way the standard does not tolerate. The standard lets a school miss one of the
  seven if it reaches 85 % of it (6-of-7 rule), so a school's shortfall on the indicator blocks only
  when that school fails the standard overall. A level without schools is left out; a county with
  no evaluated school at any level has no verdict for R codes (missing).
- G/Q/S/V: the item's own verdict (V items pass when the violation did not happen; G4/G5 are
  derived from the school rows).

A code's verdict is True, False, or None when data are missing (not entered, or no schools).
`county_indicators_pass` gives the task gate's answer from the county's LATEST evaluation: None when
the county has never been evaluated, True when every linked code passes, False otherwise (a failed
or a missing code) — False blocks 报送 and 审核通过 of the county's linked tasks.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from tracker.indicators.results import level_counts

RESOURCE_RE = re.compile(r"R[1-7]")


def _items(result: Mapping[str, Any]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for aspect, body in (result.get("aspects") or {}).items():
        if aspect != "resource":
            out.update(body.get("items") or {})
    return out


def expand(codes: Iterable[str], result: Mapping[str, Any], items: Mapping[str, dict] | None = None) -> list[str]:
    """Codes with group codes (G11, Q9) replaced by their parts as present in the result."""
    items = _items(result) if items is None else items
    out: list[str] = []
    for code in codes:
        if RESOURCE_RE.fullmatch(code) or code in items:
            out.append(code)
            continue
        parts = [k for k in items if re.fullmatch(re.escape(code) + r"[a-z]", k)]
        out.extend(parts or [code])
    return list(dict.fromkeys(out))


def resource_code_detail(result: Mapping[str, Any], code: str) -> dict[str, Any]:
    """Per level: the CV verdict and the schools whose shortfall on `code` is not tolerated.

    From a compact result (results.py) the schools are counted (``blocking_count``), not listed.
    """
    levels = {}
    for level, body in (result.get("levels") or {}).items():
        if body.get("pass") is None:
            continue
        ind = (body.get("indicators") or {}).get(code)
        blocking = [
            {"code": row["code"], "name": row["name"], "value": row["values"].get(code)}
            for row in body.get("schools", [])
            if not row["pass"] and any(sf["code"] == code for sf in row.get("shortfalls", []))
        ]
        count = len(blocking) if "schools" in body else level_counts(body)["blocking"].get(code, 0)
        cv_ok = bool(ind and ind.get("pass"))
        levels[level] = {"cv": ind.get("cv") if ind else None, "limit": ind.get("limit") if ind else None,
                         "cv_pass": cv_ok, "blocking_schools": blocking, "blocking_count": count,
                         "pass": cv_ok and not count}
    verdict = None if not levels else all(v["pass"] for v in levels.values())
    return {"code": code, "pass": verdict, "levels": levels}


def code_verdict(result: Mapping[str, Any], code: str, items: Mapping[str, dict] | None = None) -> bool | None:
    if RESOURCE_RE.fullmatch(code):
        return resource_code_detail(result, code)["pass"]
    item = (_items(result) if items is None else items).get(code)
    return None if item is None else item.get("pass")


def codes_verdicts(result: Mapping[str, Any], codes: Iterable[str]) -> dict[str, bool | None]:
    items = _items(result)  # once, not per code
    return {code: code_verdict(result, code, items) for code in expand(codes, result, items)}


def combine(verdicts: Iterable[bool | None]) -> bool | None:
    """False if any fails, None if any is missing, True if all pass."""
    verdicts = list(verdicts)
    if False in verdicts:
        return False
    return None if None in verdicts else True


def codes_verdict(result: Mapping[str, Any] | None, codes: Iterable[str]) -> bool | None:
    if not result:
        return None
    return combine(codes_verdicts(result, codes).values())


def county_indicators_pass(unit_id: int, codes: list[str]) -> bool | None:
    """The task gate: None if the county was never evaluated, True if every linked code passes, else False."""
    if not codes:
        return None
    from tracker.indicators.store import latest_evaluation

    evaluation = latest_evaluation(unit_id)
    if evaluation is None:
        return None
    return codes_verdict(evaluation.result, codes) is True
