"""The endpoint registry and the OpenAPI 3 document built from it.

Every API endpoint is declared with :func:`operation` right above its view: method, path, parameters,
request body and response schemas. The decorator registers the Flask rule *and* the description, so
the two cannot drift apart (tests/test_api_openapi.py checks both directions). The wrapper it puts
around the view authenticates the Bearer token, checks the query string and the JSON body against the
declared schemas, and hands the view a :class:`Call`.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from tracker.api import validate
from tracker.api.errors import CODES, MESSAGES, ApiError

#: every declared operation, in declaration order
REGISTRY: list[Operation] = []
#: reusable schemas (components.schemas); endpoints refer to them with ref("Name")
COMPONENTS: dict[str, dict] = {}

DEFAULT_ERRORS = (400, 401, 403, 404, 422)
#: room for the multipart envelope around an upload of the permitted size
MULTIPART_SLACK = 256 * 1024
#: upload limits used when the config does not set them (bytes)
UPLOAD_DEFAULTS = {"SCHOOL_DATA_MAX_BYTES": 20 * 1024 * 1024}
ID_MAX = validate.INT_MAX


@dataclass
class Param:
    name: str
    location: str  # "path" | "query"
    schema: dict
    required: bool = False
    description: str = ""


@dataclass
class Operation:
    method: str
    path: str
    endpoint: str
    summary: str
    tag: str
    params: list[Param]
    body: dict | None
    body_type: str | None  # "json" | "multipart"
    status: int
    response: dict | None
    response_type: str  # "json" | "binary"
    auth: bool
    errors: tuple[int, ...]
    description: str = ""
    #: config key holding the upload limit of a multipart endpoint (MAX_CONTENT_LENGTH if unset)
    max_bytes_key: str = ""

    @property
    def flask_rule(self) -> str:
        return to_flask_rule(self.path, self.params)


@dataclass
class Call:
    """What a view gets: the caller, the checked query parameters and JSON body."""

    user: Any
    query: dict = field(default_factory=dict)
    body: dict = field(default_factory=dict)


# ── schema helpers ──────────────────────────────────────────────────────────────────────────
def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def component(name: str, schema: dict) -> dict:
    COMPONENTS[name] = schema
    return ref(name)


def obj(required: list[str] | tuple[str, ...] = (), closed: bool = False, **props: dict) -> dict:
    schema: dict = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def _typed(kind: str, nullable: bool, extra: dict, **bounds) -> dict:
    """A schema of one JSON type with the bounds that are set (None means unbounded)."""
    schema: dict = {"type": kind, **extra, **{k: v for k, v in bounds.items() if v is not None}}
    if nullable:
        schema["nullable"] = True
    return schema


def string(max_length: int | None = None, *, nullable: bool = False, min_length: int | None = None, **extra) -> dict:
    return _typed("string", nullable, extra, maxLength=max_length, minLength=min_length)


def integer(minimum: int | None = None, maximum: int | None = None, *, nullable: bool = False, **extra) -> dict:
    return _typed("integer", nullable, extra, minimum=minimum, maximum=maximum)


def boolean(*, nullable: bool = False) -> dict:
    return _typed("boolean", nullable, {})


def array(items: dict, **extra) -> dict:
    return {"type": "array", "items": items, **extra}


def binary_body(description: str = "") -> dict:
    return {"type": "string", "format": "binary", **({"description": description} if description else {})}


def datetime_(nullable: bool = False) -> dict:
    return string(format="date-time", nullable=nullable)


def date_(nullable: bool = False) -> dict:
    return string(format="date", nullable=nullable)


def path_id(name: str, description: str = "") -> Param:
    return Param(name, "path", integer(1, ID_MAX), True, description)


def query(name: str, schema: dict, description: str = "", required: bool = False) -> Param:
    return Param(name, "query", schema, required, description)


def page_params() -> list[Param]:
    return [query("page", integer(1, 100000, default=1), _l("页码，从 1 开始")),
            query("per_page", integer(1, 200, default=50), _l("每页条数，最多 200"))]


def page_of(item: dict) -> dict:
    return obj(["items", "total", "page", "per_page", "pages"], items=array(item), total=integer(0),
               page=integer(1), per_page=integer(1, 200), pages=integer(0))


def to_flask_rule(path: str, params: list[Param]) -> str:
    """'/tasks/{task_id}' → '/tasks/<int:task_id>'; the declared range is checked by the wrapper (outside → 404)."""
    kinds = {p.name: p.schema for p in params if p.location == "path"}

    def convert(match: re.Match) -> str:
        name = match[1]
        schema = kinds.get(name, {"type": "string"})
        return f"<int:{name}>" if schema.get("type") == "integer" else f"<{name}>"

    return re.sub(r"\{(\w+)\}", convert, path)


# ── the decorator ───────────────────────────────────────────────────────────────────────────
def operation(bp, method: str, path: str, *, summary: str, tag: str, params: list[Param] | tuple = (),
              body: dict | None = None, multipart: dict | None = None, status: int = 200,
              response: dict | None = None, binary: bool = False, auth: bool = True,
              errors: tuple[int, ...] = (), description: str = "", max_bytes_key: str = "") -> Callable:
    """Declare an endpoint: registers the Flask route on `bp` and its OpenAPI description."""
    params = list(params)

    def decorator(view: Callable) -> Callable:
        endpoint = view.__name__
        op = Operation(method=method.upper(), path=path, endpoint=f"{bp.name}.{endpoint}", summary=summary, tag=tag,
                       params=params, body=body if body is not None else multipart,
                       body_type="json" if body is not None else ("multipart" if multipart is not None else None),
                       status=status, response=response, response_type="binary" if binary else "json", auth=auth,
                       errors=tuple(sorted(set(DEFAULT_ERRORS if auth else (400, 404)) | set(errors)
                                           | ({400, 413, 415, 422} if (body is not None or multipart is not None) else set()))),
                       description=description, max_bytes_key=max_bytes_key)
        REGISTRY.append(op)

        @wraps(view)
        def wrapped(**path_values):
            user = None
            if op.auth:
                from tracker.api.auth import authenticate

                user = authenticate()
                _act_as(user)
            for p in op.params:  # a path value outside its declared pattern or range names nothing: 404
                if p.location == "path" and not _path_value_ok(p.schema, path_values.get(p.name)):
                    raise ApiError(404)
            call = Call(user=user, query=validate.check_query(op.params, request.args))
            if op.body_type == "json":
                if not request.mimetype or request.mimetype.split(";")[0] != "application/json":
                    raise ApiError(415, _("请以 JSON 发送请求体（Content-Type: application/json）。"))
                request.max_content_length = _json_limit()
                call.body = validate.check_body(op.body, validate.load_json(request.get_data(cache=True)))
            elif op.body_type == "multipart":
                call.body = _multipart(op)
            return view(call, **path_values)

        bp.add_url_rule(op.flask_rule, endpoint, wrapped, methods=[op.method])
        return wrapped

    return decorator


def _path_value_ok(schema: dict, value) -> bool:
    if schema.get("type") == "integer":
        return isinstance(value, int) and schema.get("minimum", 0) <= value <= schema.get("maximum", ID_MAX)
    if "pattern" in schema:
        return isinstance(value, str) and re.fullmatch(schema["pattern"], value) is not None
    return isinstance(value, str) and validate.text_problem(value) is None


def _multipart(op: Operation) -> dict:
    """Form fields and files of a multipart body, checked against the declared schema.

    The size limit is checked from Content-Length before a byte of the body is read (413), and
    werkzeug stops reading a body without one at the same limit."""
    from flask import current_app

    if request.mimetype != "multipart/form-data":
        raise ApiError(415, _("请以 multipart/form-data 上传文件。"))
    limit = int(current_app.config.get(op.max_bytes_key) or UPLOAD_DEFAULTS.get(op.max_bytes_key)
                or current_app.config["MAX_CONTENT_LENGTH"]) + MULTIPART_SLACK
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, _("上传内容太大（上限 %(num)d MB）。", num=limit // (1024 * 1024)), details={"limit": limit})
    problems, out = validate.Problems(), {}
    required = set(op.body.get("required", []))
    for name, schema in op.body.get("properties", {}).items():
        if schema.get("format") == "binary":
            upload = request.files.get(name)
            if upload is None or not upload.filename:
                if name in required:
                    problems.add(name, _("请选择要上传的文件"))
                continue
            out[name] = upload
            continue
        if name not in request.form or (request.form[name] == "" and name not in required):
            if name in required:
                problems.add(name, _("必须填写"))
            elif "default" in schema:
                out[name] = schema["default"]
            continue
        try:
            value = validate.coerce_query(schema, request.form[name])
        except ValueError as exc:
            problems.add(name, str(exc))
            continue
        out[name] = validate.check(schema, value, name, problems)
    problems.raise_if_any()
    return out


def _json_limit() -> int:
    from flask import current_app

    return int(current_app.config.get("API_JSON_MAX_BYTES", 4 * 1024 * 1024))


def _act_as(user) -> None:
    """Make the token's user the request's user for code that reads flask_login.current_user,
    without touching the session (nothing is written to a cookie)."""
    g._login_user = user


# ── the document ────────────────────────────────────────────────────────────────────────────
ERROR_SCHEMA = obj(
    ["error"],
    error=obj(["status", "code", "message", "details"], status=integer(400, 599),
              code=string(enum=sorted(set(CODES.values()))), message=string(),
              details={"type": "object", "additionalProperties": True}))


def _parameter(p: Param) -> dict:
    out = {"name": p.name, "in": p.location, "required": p.required or p.location == "path",
           "schema": copy.deepcopy(p.schema)}
    if p.description:
        out["description"] = p.description
    return out


def _responses(op: Operation) -> dict:
    out: dict[str, Any] = {}
    if op.response_type == "binary":
        out[str(op.status)] = {"description": _("文件（以附件下载）"),
                               "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    else:
        out[str(op.status)] = {"description": _("成功"), "content": {"application/json": {"schema": op.response or {}}}}
    for code in op.errors:
        out[str(code)] = {"description": MESSAGES.get(code, ""),
                          "content": {"application/json": {"schema": ref("Error")}}}
    return out


def _plain(value):
    """The document with every lazily translated text (summaries, descriptions) as a string in the reader's language."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, LazyString) else value


def document(server_url: str = "/api/v1") -> dict:
    paths: dict[str, dict] = {}
    for op in REGISTRY:
        entry: dict[str, Any] = {"operationId": op.endpoint.split(".", 1)[1], "summary": op.summary, "tags": [op.tag],
                                 "parameters": [_parameter(p) for p in op.params], "responses": _responses(op)}
        if op.description:
            entry["description"] = op.description
        entry["security"] = [{"bearer": []}] if op.auth else []
        if op.body_type == "json":
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
        elif op.body_type == "multipart":
            entry["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": op.body}}}
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return _plain({
        "openapi": "3.0.3",
        "info": {"title": _("优质均衡督办 API"), "version": "1.0.0",
                 "description": _("县域义务教育优质均衡发展督办系统的 JSON 接口。用个人访问令牌认证："
                                  "`Authorization: Bearer <令牌>`（在“访问令牌”页面创建）。权限与网页相同。"
                                  "错误一律为 {\"error\": {status, code, message, details}}。")},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **COMPONENTS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": _("个人访问令牌（ydb_…）")}},
        },
    })
