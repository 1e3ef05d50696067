"""API errors: one JSON shape for every failure, whatever raised it.

    {"error": {"status": 409, "code": "conflict", "message": "中文说明", "details": {...}}}

`code` is one of CODES (stable, for programs); `message` is for people; `details` carries what a
program can act on (the refused transition, the field errors, the school-data rows …).
"""
from __future__ import annotations

from flask import Response, current_app, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from tracker.errors import STALE_MESSAGE, ServiceError
from tracker.extensions import db
from workflows import TransitionRefused, WorkflowError

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 410: "gone", 413: "too_large", 415: "unsupported_media_type", 422: "invalid",
    429: "too_many_requests", 500: "server_error",
}
MESSAGES = {
    400: _l("请求无效。"), 401: _l("缺少有效的访问令牌：请在 Authorization 头中提供 Bearer 令牌。"),
    403: _l("您没有权限执行此操作。"), 404: _l("资源不存在，或您无权查看。"), 405: _l("此地址不支持该请求方法。"),
    409: _l("操作冲突。"), 410: _l("文件已不存在。"), 413: _l("请求体太大。"), 415: _l("不支持的内容类型。"),
    422: _l("数据无效。"), 429: _l("请求过于频繁，请稍后再试。"), 500: _l("服务器内部错误，请稍后再试。"),
}
#: why the state machine refused → HTTP status
REFUSAL_STATUS = {
    "role_forbidden": 403, "not_owner": 403,
    "reason_required": 422, "missing_progress_or_evidence": 422, "indicators_failed": 422, "unknown_event": 422,
    "invalid_state": 409, "unknown_state": 409,
}


class ApiError(Exception):
    """Raised by API views for a failure they detect themselves."""

    def __init__(self, status: int, message: str | None = None, *, details: dict | None = None, code: str | None = None):
        message = str(message or MESSAGES.get(status) or _("出错了。"))  # the reader's language, now
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}
        self.code = code or CODES.get(status, "error")


def error_response(status: int, message: str | None = None, *, details: dict | None = None,
                   code: str | None = None, headers: dict | None = None) -> Response:
    body = {"error": {"status": status, "code": code or CODES.get(status, "error"),
                      "message": str(message or MESSAGES.get(status) or _("出错了。")), "details": details or {}}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    for key, value in (headers or {}).items():
        response.headers[key] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def is_api_path() -> bool:
    from tracker.api import PREFIX

    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def from_exception(exc: BaseException) -> Response:
    """Any exception raised while serving an API request → the JSON error (the transaction rolled back)."""
    db.session.rollback()
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.message, details=exc.details, code=exc.code)
    if isinstance(exc, TransitionRefused):
        status = REFUSAL_STATUS.get(exc.code, 409)
        return error_response(status, exc.message, details={"refusal": exc.to_dict()})
    if isinstance(exc, ServiceError):
        return error_response(exc.status, exc.message)
    if isinstance(exc, WorkflowError):
        return error_response(409, exc.message, details={"reason": getattr(exc, "code", None)})
    if isinstance(exc, StaleDataError):  # lost a race at commit time: the same answer as a stale version
        return error_response(409, STALE_MESSAGE)
    if isinstance(exc, IntegrityError):  # lost a race to a unique constraint
        return error_response(409, _("操作冲突：数据已被同时修改，请刷新后重试。"))
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        headers = {}
        if status == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        message = MESSAGES.get(status)
        if status == 413:
            limit = request.max_content_length
            message = _("请求体太大（上限 %(num)d MB）。", num=limit // (1024 * 1024)) if limit else message
        return error_response(status, message, headers=headers)
    current_app.logger.exception("API request failed: %s %s", request.method, request.path)
    return error_response(500)


def init_blueprint(bp) -> None:
    """Every error raised inside an API view answers in JSON (blueprint-level, so HTML pages keep theirs)."""
    for status in CODES:
        bp.register_error_handler(status, from_exception)
    for cls in (ApiError, ServiceError, WorkflowError, StaleDataError, IntegrityError, HTTPException, Exception):
        bp.register_error_handler(cls, from_exception)
