"""The two shapes of a stored evaluation result and what every reader may rely on in both.

- **detailed** (`engine.evaluate_county`, one county at a time): every school's R1–R7 values, compliance and
  shortfalls under ``levels.<level>.schools``, the schools left out (``excluded``), the G4/G5 checks that did
  not pass (``schools`` of the item) and the gap list (``gaps``).
- **compact** (``"detail": false``; `bulk.evaluate_all` through `sqlengine`): the same verdicts, CVs and
  aspects; counts instead of school lists — per level ``school_count``, ``failing_schools`` and per indicator
  ``blocking`` (failing schools short of it); ``excluded_count``; each aspect item only its ``value``, ``pass``
  and ``missing`` (the thresholds are the catalog's) and for G4/G5 ``failing_schools``.

Verdicts, CV figures, aspects and overall verdicts read the same from both. A page listing schools asks
`tracker.indicators.store.detailed` for the detailed shape, which runs the engine for that one county.
"""
from __future__ import annotations

from typing import Any, Mapping

from tracker.indicators.engine import rounded


def is_detailed(result: Mapping[str, Any] | None) -> bool:
    return bool(result) and result.get("detail") is not False


def level_counts(body: Mapping[str, Any]) -> dict[str, Any]:
    """A level's schools, failing schools and, per indicator, failing schools short of it — from either shape."""
    if "schools" in body:
        rows = body.get("schools") or []
        failing = [row for row in rows if not row["pass"]]
        return {"schools": len(rows), "failing": len(failing),
                "blocking": {code: sum(1 for row in failing if any(sf["code"] == code for sf in row.get("shortfalls", [])))
                             for code in body.get("indicators") or {}}}
    return {"schools": body.get("school_count", 0), "failing": body.get("failing_schools", 0),
            "blocking": dict(body.get("blocking") or {})}


def compact(result: Mapping[str, Any]) -> dict[str, Any]:
    """The compact shape of a detailed result (a compact one is returned as it is)."""
    if not is_detailed(result):
        return dict(result)
    out: dict[str, Any] = {}
    for key, value in result.items():
        if key == "levels":
            out[key] = {}
            for level, body in value.items():
                counts = level_counts(body)
                out[key][level] = {"indicators": body.get("indicators") or {}, "pass": body.get("pass"),
                                   "school_count": counts["schools"], "failing_schools": counts["failing"],
                                   "blocking": counts["blocking"]}
        elif key == "aspects":
            out[key] = compact_aspects(value)
        elif key not in ("excluded", "gaps"):
            out[key] = value
    out["excluded_count"] = len(result.get("excluded") or [])
    out["detail"] = False
    return out


def _compact_aspect(body: Mapping[str, Any]) -> dict[str, Any]:
    if "items" not in body:
        return dict(body)
    return {**body, "items": {code: compact_item(item) for code, item in body["items"].items()}}


def compact_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An aspect item of the compact shape: its value (floats to 4 places), verdict and whether data are missing."""
    out = {"value": rounded(item["value"]), "pass": item["pass"], "missing": item["missing"]}
    if "schools" in item:
        out["failing_schools"] = len(item["schools"])
    elif "failing_schools" in item:
        out["failing_schools"] = item["failing_schools"]
    return out


def compact_aspects(aspects: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {aspect: _compact_aspect(body) for aspect, body in aspects.items()}
