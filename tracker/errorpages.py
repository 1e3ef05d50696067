"""Error pages in Chinese, and a lost race at commit time turned into the same conflict message."""
from __future__ import annotations

from flask import Flask, flash, redirect, render_template, request
from sqlalchemy.orm.exc import StaleDataError

from tracker.errors import STALE_MESSAGE
from tracker.extensions import db

MESSAGES = {
    400: "请求无效。", 401: "请先登录。", 403: "您没有权限访问此页面。", 404: "页面不存在，或您无权查看。",
    405: "不支持此操作。", 409: "操作冲突。", 410: "文件已不存在。", 413: "上传的文件太大。", 500: "服务器内部错误，请稍后再试。",
}


def init_app(app: Flask) -> None:
    for code in MESSAGES:
        app.register_error_handler(code, _page)

    @app.errorhandler(StaleDataError)
    def stale(_exc):
        db.session.rollback()
        flash(STALE_MESSAGE, "danger")
        back = request.referrer if request.referrer and request.referrer.startswith(request.host_url) else "/"
        return redirect(back, 303)


def _page(exc):
    code = getattr(exc, "code", 500) or 500
    if code >= 500:
        db.session.rollback()
    return render_template("error.html", code=code, message=MESSAGES.get(code, "出错了。")), code
