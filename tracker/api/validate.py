"""Input checking against the schemas the endpoints declare (the same ones the OpenAPI document shows).

A small subset of JSON Schema, enough for our request bodies and query strings: type (with OpenAPI's
``nullable``), required, properties, additionalProperties: false, enum, minLength/maxLength, pattern,
minimum/maximum, maxItems/items, format date. Every string is also checked for characters that have
no business in a government record and that databases refuse or that spoof text: NUL and other
control characters (tab and line breaks allowed), unpaired surrogates, bidirectional overrides.
Failures collect per field into one ApiError 422 whose details name each field.
"""
from __future__ import annotations

import json
import math
import re
from datetime import date
from typing import Any

from tracker.api.errors import ApiError

#: integers the database columns can hold
INT_MAX = 2_147_483_647
#: dates the API accepts anywhere (a deadline in year 1 or 9999 is a typo, not a plan)
DATE_MIN, DATE_MAX = date(2000, 1, 1), date(2100, 12, 31)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class Problems:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def add(self, where: str, message: str) -> None:
        self.fields.setdefault(where or "body", message)

    def raise_if_any(self, status: int = 422) -> None:
        if self.fields:
            first = next(iter(self.fields.items()))
            label = first[0]
            message = f"字段“{label}”：{first[1]}" if label != "body" else first[1]
            if len(self.fields) > 1:
                message += f"（另有 {len(self.fields) - 1} 处错误，见 details.fields）"
            raise ApiError(status, message, details={"fields": self.fields})


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored, or None."""
    if "\x00" in value:
        return "不能包含空字符（NUL）"
    if _SURROGATE.search(value):
        return "包含无效的 Unicode 字符（不成对的代理项）"
    if _CONTROL.search(value):
        return "不能包含控制字符"
    if _BIDI.search(value):
        return "不能包含双向文字控制符（可用于伪装文字）"
    return None


def parse_date(value: str) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _type_name(schema: dict) -> str:
    return {"string": "字符串", "integer": "整数", "number": "数字", "boolean": "true/false", "object": "对象",
            "array": "数组"}.get(schema.get("type", ""), schema.get("type", ""))


def check(schema: dict, value: Any, where: str, problems: Problems) -> Any:
    """Check `value` against `schema`; returns the value converted (date strings → date)."""
    if value is None:
        if schema.get("nullable"):
            return None
        problems.add(where, "不能为空")
        return None
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            problems.add(where, "应为 JSON 对象")
            return value
        out = {}
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.add(name if not where or where == "body" else f"{where}.{name}", "必须填写")
        if schema.get("additionalProperties") is False:
            for name in value:
                if name not in props:
                    problems.add(name, "不是可接受的字段")
        for name, sub in props.items():
            if name in value:
                out[name] = check(sub, value[name], name if where in ("", "body") else f"{where}.{name}", problems)
        return out
    if kind == "array":
        if not isinstance(value, list):
            problems.add(where, "应为数组")
            return value
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.add(where, f"最多 {schema['maxItems']} 项")
            return value
        return [check(schema.get("items", {}), v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if kind == "boolean":
        if not isinstance(value, bool):
            problems.add(where, "应为 true 或 false")
        return value
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                kind == "integer" and isinstance(value, float) and not value.is_integer()):
            problems.add(where, f"应为{_type_name(schema)}")
            return value
        if isinstance(value, float) and not math.isfinite(value):
            problems.add(where, "应为有限的数字")
            return value
        low, high = schema.get("minimum"), schema.get("maximum", INT_MAX if kind == "integer" else None)
        if (low is not None and value < low) or (high is not None and value > high):
            problems.add(where, f"应在 {low if low is not None else '-∞'}–{high if high is not None else '∞'} 之间")
            return value
        return int(value) if kind == "integer" else value
    if kind == "string":
        if not isinstance(value, str):
            problems.add(where, "应为字符串")
            return value
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.add(where, f"不能超过 {schema['maxLength']} 个字符")
            return value
        bad = text_problem(value)
        if bad:
            problems.add(where, bad)
            return value
        if "minLength" in schema and len(value.strip()) < schema["minLength"]:
            problems.add(where, "必须填写" if schema["minLength"] == 1 else f"至少 {schema['minLength']} 个字符")
            return value
        if "enum" in schema and value not in schema["enum"]:
            problems.add(where, "应为以下之一：" + "、".join(map(str, schema["enum"])))
            return value
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            problems.add(where, "格式不正确")
            return value
        if schema.get("format") == "date":
            day = parse_date(value)
            if day is None:
                problems.add(where, "应为有效日期，格式 YYYY-MM-DD（如 2026-12-31）")
                return value
            if not DATE_MIN <= day <= DATE_MAX:
                problems.add(where, f"日期应在 {DATE_MIN.isoformat()} 至 {DATE_MAX.isoformat()} 之间")
                return value
            return day
        return value
    return value


def coerce_query(schema: dict, raw: str) -> Any:
    """A query-string value (always text) as the declared type, or raise ValueError(message)."""
    kind = schema.get("type")
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d{1,12}", raw.strip()):
            raise ValueError("应为整数")
        return int(raw)
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no", ""):
            return False
        raise ValueError("应为 true 或 false")
    return raw


def check_query(params, args) -> dict:
    """Declared query parameters from request.args, converted and checked (422 naming each bad one)."""
    problems, out = Problems(), {}
    for p in params:
        if p.location != "query":
            continue
        if p.name not in args:
            if p.required:
                problems.add(p.name, "必须提供")
            elif "default" in p.schema:
                out[p.name] = p.schema["default"]
            continue
        raw = args.get(p.name, "")
        if p.schema.get("type") == "string" and raw == "" and not p.required:
            continue  # an empty filter means no filter
        try:
            value = coerce_query(p.schema, raw)
        except ValueError as exc:
            problems.add(p.name, str(exc))
            continue
        out[p.name] = check(p.schema, value, p.name, problems)
    problems.raise_if_any()
    return out


def load_json(data: bytes) -> Any:
    """Strict JSON: malformed text, NaN/Infinity or absurd nesting → 400."""
    def no_constants(name):
        raise ValueError(f"不支持 {name}")

    if not data.strip():
        raise ApiError(400, "请求体为空：请发送 JSON 对象。")
    try:
        return json.loads(data, parse_constant=no_constants)
    except RecursionError:
        raise ApiError(400, "JSON 嵌套层次太深。") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "请求体不是有效的 JSON（应为 UTF-8 编码的 JSON 对象）。",
                       details={"reason": str(exc)[:200]}) from None


def check_body(schema: dict, value: Any) -> dict:
    problems = Problems()
    out = check(schema, value, "body", problems)
    problems.raise_if_any()
    return out
