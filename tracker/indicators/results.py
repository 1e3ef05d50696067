"""The two shapes of a stored evaluation result and what every reader may rely on in both.

- **detailed** (`engine.evaluate_county`, one county at a time): every school's R1–R7 values, compliance and
  shortfalls under ``levels.<level>.schools``, the schools left out (``excluded``), the G4/G5 checks that did
  not pass (``schools`` of the item) and the gap list (``gaps``).
- **compact** (``"detail": false``; `bulk.evaluate_all` through `sqlengine`): the same verdicts, CVs and
  aspects; counts instead of school lists — per level ``school_count``, ``failing_schools`` and per indicator
  ``blocking`` (failing schools short of it); ``excluded_count``; ``failing_schools`` of the G4/G5 items.

Verdicts, CV figures, aspects and overall verdicts read the same from both. A page listing schools asks
`tracker.indicators.store.detailed` for the detailed shape, which runs the engine for that one county.
"""
from __future__ import annotations

from typing import Any, Mapping


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
            out[key] = {aspect: _compact_aspect(body) for aspect, body in value.items()}
        elif key not in ("excluded", "gaps"):
            out[key] = value
    out["excluded_count"] = len(result.get("excluded") or [])
    out["detail"] = False
    return out


def _compact_aspect(body: Mapping[str, Any]) -> dict[str, Any]:
    if "items" not in body:
        return dict(body)
    items = {}
    for code, item in body["items"].items():
        if "schools" in item:
            item = {k: v for k, v in item.items() if k != "schools"} | {"failing_schools": len(item["schools"])}
        items[code] = item
    return {**body, "items": items}
