"""Languages: Simplified Chinese by default, English on request (Flask-Babel).

Source strings are Simplified Chinese, so Chinese needs no catalogue; the English one is
``tracker/translations/en/LC_MESSAGES/messages.po``, compiled to ``.mo`` on start-up when it
is newer than the compiled file (``make translations`` does the same ahead of time).

The reader's language comes from, in order: the signed-in user's saved choice, the ``lang``
cookie set by the switch in the page header, the application default (``zh``). Outside a request
(command line, scheduler) it is ``TRACKER_LANG`` if set, else ``zh``; notices are written in each
recipient's language where they are built for one person.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy
from flask import Blueprint, Flask, has_request_context, redirect, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_babel.speaklater import LazyString
from flask_login import current_user

import workflows.i18n

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"
COOKIE = "lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

babel = Babel()
bp = Blueprint("i18n", __name__)
log = logging.getLogger(__name__)


def select_locale() -> str:
    if not has_request_context():  # command line and scheduler: TRACKER_LANG, else Chinese
        env = os.environ.get("TRACKER_LANG", "")
        return env if env in LANGUAGES else DEFAULT
    chosen = getattr(current_user, "locale", None) if current_user and current_user.is_authenticated else None
    if chosen in LANGUAGES:
        return chosen
    cookie = request.cookies.get(COOKIE) if request else None
    return cookie if cookie in LANGUAGES else DEFAULT


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT


def html_lang() -> str:
    return "zh-CN" if current_language() == "zh" else current_language()


#: the marking functions (msgid argument positions for the plural ones; ``pgettext(context, text)``
#: tells apart one Chinese word with two meanings in English), as in babel.cfg
KEYWORDS = {"_": None, "_l": None, "N_": None, "gettext": None, "lazy_gettext": None,
            "ngettext": (1, 2), "lazy_ngettext": (1, 2), "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}
SOURCES = [("tracker/**.py", "python"), ("workflows/**.py", "python"),
           ("notifications/**.py", "python"), ("templates/**.html", "jinja2")]
ROOT = Path(__file__).resolve().parent.parent


def extract_catalog():
    """Every marked string in the code and templates, with where it is used (a babel Catalog)."""
    from datetime import datetime

    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(locale="en", project="优质均衡督办", fuzzy=False,  # i18n: data
                      creation_date=datetime(2026, 1, 1), revision_date=datetime(2026, 1, 1),
                      header_comment="# English for 优质均衡督办; source strings are Simplified Chinese.")  # i18n: data
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), SOURCES, keywords=KEYWORDS, options_map={"templates/**.html": {}}):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def compile_catalogues(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``.po`` whose ``.mo`` is missing or older; returns the files written."""
    written = []
    for po in directory.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        tmp = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")  # several workers may start at once: write, then rename
        try:
            with tmp.open("wb") as out:
                write_mo(out, catalog, use_fuzzy=False)
            os.replace(tmp, mo)
        except OSError as exc:  # read-only install: run `make translations` at build time
            log.warning("cannot write %s: %s", mo, exc)
            continue
        written.append(mo)
    return written


class JSONProvider(DefaultJSONProvider):
    """Lazily translated labels serialise as the text the reader sees."""

    @staticmethod
    def default(o):
        if isinstance(o, (LazyString, LazyProxy)):
            return str(o)
        return DefaultJSONProvider.default(o)


@bp.post("/language")
def switch():
    """The header's language switch: remembered in a cookie and, when signed in, on the account."""
    from tracker.extensions import db

    lang = request.form.get("lang", "")
    back = request.form.get("next") or request.referrer or ""
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("tasks.home")
    if lang not in LANGUAGES:
        return redirect(back, 303)
    if current_user.is_authenticated and current_user.locale != lang:
        current_user.locale = lang
        db.session.commit()
    response = redirect(back, 303)
    response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=request.is_secure)
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    compile_catalogues(Path(app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")[0]))
    babel.init_app(app, locale_selector=select_locale)
    app.json_provider_class = JSONProvider
    app.json = JSONProvider(app)
    workflows.i18n.install(_, pgettext)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(languages=LANGUAGES, current_language=current_language, html_lang=html_lang)
