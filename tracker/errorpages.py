"""Error pages in Chinese, and a lost race at commit time turned into the same conflict message."""
from __future__ import annotations

from flask import Flask, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from tracker.errors import STALE_MESSAGE
from tracker.extensions import db

MESSAGES = {
    400: _l("请求无效。"), 401: _l("请先登录。"), 403: _l("您没有权限访问此页面。"), 404: _l("页面不存在，或您无权查看。"),
    405: _l("不支持此操作。"), 409: _l("操作冲突。"), 410: _l("文件已不存在。"), 413: _l("上传的文件太大。"),
    500: _l("服务器内部错误，请稍后再试。"),
}


def init_app(app: Flask) -> None:
    for code in MESSAGES:
        app.register_error_handler(code, _page)

    @app.errorhandler(StaleDataError)
    def stale(_exc):
        db.session.rollback()
        flash(str(STALE_MESSAGE), "danger")
        back = request.referrer if request.referrer and request.referrer.startswith(request.host_url) else "/"
        return redirect(back, 303)


def _page(exc):
    code = getattr(exc, "code", 500) or 500
    if code >= 500:
        db.session.rollback()
    return render_template("error.html", code=code, message=MESSAGES.get(code) or _("出错了。")), code
