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

from flask_babel import gettext as _
from flask_babel import ngettext

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
            message = _("字段“%(field)s”：%(problem)s", field=label, problem=first[1]) if label != "body" else first[1]
            if len(self.fields) > 1:
                message += ngettext("（另有 %(num)d 处错误，见 details.fields）", "（另有 %(num)d 处错误，见 details.fields）",
                                    len(self.fields) - 1)
            raise ApiError(status, message, details={"fields": self.fields})


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored, or None."""
    if "\x00" in value:
        return _("不能包含空字符（NUL）")
    if _SURROGATE.search(value):
        return _("包含无效的 Unicode 字符（不成对的代理项）")
    if _CONTROL.search(value):
        return _("不能包含控制字符")
    if _BIDI.search(value):
        return _("不能包含双向文字控制符（可用于伪装文字）")
    return None


def parse_date(value: str) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def check(schema: dict, value: Any, where: str, problems: Problems) -> Any:
    """Check `value` against `schema`; returns the value converted (date strings → date)."""
    if value is None:
        if schema.get("nullable"):
            return None
        problems.add(where, _("不能为空"))
        return None
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            problems.add(where, _("应为 JSON 对象"))
            return value
        out = {}
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.add(name if not where or where == "body" else f"{where}.{name}", _("必须填写"))
        if schema.get("additionalProperties") is False:
            for name in value:
                if name not in props:
                    problems.add(name, _("不是可接受的字段"))
        for name, sub in props.items():
            if name in value:
                out[name] = check(sub, value[name], name if where in ("", "body") else f"{where}.{name}", problems)
        return out
    if kind == "array":
        if not isinstance(value, list):
            problems.add(where, _("应为数组"))
            return value
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.add(where, _("最多 %(num)d 项", num=schema["maxItems"]))
            return value
        return [check(schema.get("items", {}), v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if kind == "boolean":
        if not isinstance(value, bool):
            problems.add(where, _("应为 true 或 false"))
        return value
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                kind == "integer" and isinstance(value, float) and not value.is_integer()):
            problems.add(where, _("应为整数") if kind == "integer" else _("应为数字"))
            return value
        if isinstance(value, float) and not math.isfinite(value):
            problems.add(where, _("应为有限的数字"))
            return value
        low, high = schema.get("minimum"), schema.get("maximum", INT_MAX if kind == "integer" else None)
        if (low is not None and value < low) or (high is not None and value > high):
            problems.add(where, _("应在 %(low)s–%(high)s 之间", low=low if low is not None else "-∞",
                                  high=high if high is not None else "∞"))
            return value
        return int(value) if kind == "integer" else value
    if kind == "string":
        if not isinstance(value, str):
            problems.add(where, _("应为字符串"))
            return value
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.add(where, _("不能超过 %(num)d 个字符", num=schema["maxLength"]))
            return value
        bad = text_problem(value)
        if bad:
            problems.add(where, bad)
            return value
        if "minLength" in schema and len(value.strip()) < schema["minLength"]:
            problems.add(where, _("必须填写") if schema["minLength"] == 1 else _("至少 %(num)d 个字符", num=schema["minLength"]))
            return value
        if "enum" in schema and value not in schema["enum"]:
            problems.add(where, _("应为以下之一：%(choices)s", choices=_("、").join(map(str, schema["enum"]))))
            return value
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            problems.add(where, _("格式不正确"))
            return value
        if schema.get("format") == "date":
            day = parse_date(value)
            if day is None:
                problems.add(where, _("应为有效日期，格式 YYYY-MM-DD（如 2026-12-31）"))
                return value
            if not DATE_MIN <= day <= DATE_MAX:
                problems.add(where, _("日期应在 %(first)s 至 %(last)s 之间", first=DATE_MIN.isoformat(), last=DATE_MAX.isoformat()))
                return value
            return day
        return value
    return value


def coerce_query(schema: dict, raw: str) -> Any:
    """A query-string value (always text) as the declared type, or raise ValueError(message)."""
    kind = schema.get("type")
    if kind == "integer":
        if not re.fullmatch(r"[+-]?\d{1,12}", raw.strip()):
            raise ValueError(_("应为整数"))
        return int(raw)
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no", ""):
            return False
        raise ValueError(_("应为 true 或 false"))
    return raw


def check_query(params, args) -> dict:
    """Declared query parameters from request.args, converted and checked (422 naming each bad one)."""
    problems, out = Problems(), {}
    for p in params:
        if p.location != "query":
            continue
        if p.name not in args:
            if p.required:
                problems.add(p.name, _("必须提供"))
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
        raise ValueError(_("不支持 %(name)s", name=name))

    if not data.strip():
        raise ApiError(400, _("请求体为空：请发送 JSON 对象。"))
    try:
        return json.loads(data, parse_constant=no_constants)
    except RecursionError:
        raise ApiError(400, _("JSON 嵌套层次太深。")) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, _("请求体不是有效的 JSON（应为 UTF-8 编码的 JSON 对象）。"),
                       details={"reason": str(exc)[:200]}) from None


def check_body(schema: dict, value: Any) -> dict:
    problems = Problems()
    out = check(schema, value, "body", problems)
    problems.raise_if_any()
    return out
