"""Errors the services raise for the user; views, API and CLI turn them into messages and status codes."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l


class ServiceError(Exception):
    """Base: a Chinese message fit to show the user; `status` is the HTTP code the API answers with."""

    status = 400

    def __init__(self, message: str):
        message = str(message)  # a lazily translated text becomes the reader's language now
        super().__init__(message)
        self.message = message


class Invalid(ServiceError):
    status = 422


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    """The object changed since the user opened it, or its state does not allow the action."""

    status = 409


STALE_MESSAGE = _l("此任务在您打开后已被他人修改，请刷新页面查看最新情况后再操作。")
