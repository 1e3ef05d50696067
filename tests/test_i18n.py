"""Languages: Chinese by default, English complete and switchable, every user-facing string translated.

Three static checks keep the promise as the code grows:
* no Chinese text in a template outside a ``_()`` call;
* no Chinese string literal in the Python packages outside ``_()``/``_l()``/``N_()``, docstrings,
  or a line marked ``# i18n: data`` (file formats and data, which are not user interface text);
* every marked string has an English translation with the same placeholders.
And one that reads the pages: every page, in English, shows no Chinese except the user's own data.
"""
from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import JSON, String, Text, select

from tracker.extensions import db as _db
from tracker.i18n import KEYWORDS, LANGUAGES, TRANSLATIONS, extract_catalog

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
CJK_RUN = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef][^<>\n]{0,30}")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")

#: whole files whose Chinese is data or a file format, not interface text — with the reason
DATA_FILES = {
    "tracker/i18n.py": "language names are written in their own language",
    "tracker/demo/generate.py": "synthetic place, school and person names",
}


def _catalog():
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale="en")


def _extracted() -> dict[tuple, tuple[str, int]]:
    """(msgid, context) → (file, line) of every marked string in code and templates."""
    return {(m.id, m.context): m.locations[0] for m in extract_catalog() if m.id}


def test_templates_have_no_chinese_outside_translation_calls():
    call = re.compile(r"""\b(?:_|gettext|ngettext|pgettext)\(\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
                      r"""(?:\s*,\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"))?""")
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        source = re.sub(r"\{#.*?#\}", lambda m: "\n" * m.group().count("\n"), path.read_text(), flags=re.S)
        source = call.sub(lambda m: "_()", source)
        for number, line in enumerate(source.splitlines(), 1):
            for run in CJK_RUN.findall(line):
                problems.append(f"{path.relative_to(ROOT)}:{number}: {run}")
    assert not problems, "Chinese outside _() in templates:\n" + "\n".join(problems)


def _docstring_nodes(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _translated_nodes(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name in KEYWORDS:
                ids.update(id(arg) for arg in node.args[:2 if KEYWORDS[name] else 1])
    return ids


def test_python_has_no_chinese_outside_translation_calls():
    problems = []
    for package in ("tracker", "workflows", "notifications"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            if rel in DATA_FILES:
                continue
            source = path.read_text()
            lines = source.splitlines()
            tree = ast.parse(source)
            allowed = _docstring_nodes(tree) | _translated_nodes(tree)
            inside_fstring = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
            for node in ast.walk(tree):
                if isinstance(node, ast.JoinedStr):
                    text_parts = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_fstring:
                    text_parts = node.value
                else:
                    continue
                if not CJK.search(text_parts) or id(node) in allowed:
                    continue
                span = lines[node.lineno - 1: (node.end_lineno or node.lineno)]
                if any("# i18n: data" in line for line in span):
                    continue
                problems.append(f"{rel}:{node.lineno}: {text_parts[:40]!r}")
    assert not problems, ("Chinese string literals outside _()/_l()/N_() (mark file formats and data with "
                          "'# i18n: data'):\n" + "\n".join(problems))


def test_every_marked_string_has_an_english_translation():
    catalog = _catalog()
    problems = []
    for (msgid, context), (filename, lineno) in sorted(_extracted().items(), key=lambda kv: kv[1]):
        key = msgid if isinstance(msgid, str) else msgid[0]
        message = catalog.get(key, context=context)
        where = f"{filename}:{lineno}"
        if message is None or not message.string or (isinstance(message.string, tuple) and not all(message.string)):
            problems.append(f"{where}: no English for {key!r}")
            continue
        if message.fuzzy:
            problems.append(f"{where}: fuzzy English for {key!r}")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if CJK.search(text):
                problems.append(f"{where}: Chinese left in the English for {key!r}: {text!r}")
            if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(key)):
                problems.append(f"{where}: placeholders differ for {key!r}: {text!r}")
    assert not problems, f"{len(problems)} catalogue problems:\n" + "\n".join(problems[:200])


def test_dates_follow_the_language(app):
    from datetime import date, datetime

    from flask_babel import force_locale

    from tracker.ui import cn_date

    with app.test_request_context("/"):
        assert cn_date(date(2025, 12, 31)) == "2025年12月31日"
        assert cn_date(datetime(2025, 12, 31, 2, 5)) == "2025年12月31日 10:05"  # UTC+8
        with force_locale("en"):
            assert cn_date(date(2025, 12, 31)) == "31 Dec 2025"


def test_chinese_by_default_english_on_request_and_remembered(app, db, client, chuxiong, make_user, login):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and 'lang="zh-CN"' in page
    resp = client.post("/language", data={"lang": "en", "next": "/login"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/login")
    page = client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in page and "Sign in" in page
    user = make_user("lufeng", "unit", "532302")
    client.delete_cookie("lang", domain="tracker.test")
    login("lufeng")
    assert "我的任务" in client.get("/").get_data(as_text=True)
    client.post("/language", data={"lang": "en", "next": "/"})
    _db.session.expire_all()
    assert _db.session.get(type(user), user.id).locale == "en"
    # the choice follows the account to another browser
    other = app.test_client()
    other.post("/login", data={"username": "lufeng", "password": "Passw0rd!x"})
    home = other.get("/").get_data(as_text=True)
    assert "My tasks" in home and "我的任务" not in home
    # an unknown language changes nothing
    other.post("/language", data={"lang": "xx", "next": "/"})
    assert "My tasks" in other.get("/").get_data(as_text=True)


def _data_strings() -> list[str]:
    """Every string the users and plan files put in the database, longest first."""
    values: set[str] = set()
    with _db.engine.connect() as conn:
        for table in _db.metadata.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            if not cols:
                continue
            for row in conn.execute(select(*cols)):
                _walk(list(row), values)
    import yaml

    _walk(yaml.safe_load((ROOT / "data" / "indicators.yaml").read_text()), values)
    _walk(list(LANGUAGES.values()), values)  # the language switch names each language in itself
    return sorted(values, key=len, reverse=True)


def _walk(node, found: set[str]) -> None:
    """Every Chinese string inside nested lists and dicts (JSON columns, YAML)."""
    if isinstance(node, str):
        if CJK.search(node):
            found.add(node)
    elif isinstance(node, dict):
        for v in node.values():
            _walk(v, found)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _walk(v, found)


@pytest.mark.parametrize("role", ["admin", "own"])
def test_every_page_in_english_shows_only_the_users_data_in_chinese(app, db, make_user, role):
    from tests.test_routes_authz import build_world, world_path

    world = build_world(app, db, make_user)
    user = world["users"][role]
    user.locale = "en"
    _db.session.commit()
    client = app.test_client()
    client.post("/login", data={"username": user.username, "password": "Passw0rd!x"})
    data = _data_strings()
    problems, pages = [], 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint.startswith(("api.", "static")) \
                or rule.endpoint in ("tasks.calendar_feed",):
            continue
        path = world_path(app, world, rule)
        resp = client.get(path)
        if resp.status_code != 200 or not resp.mimetype == "text/html":
            continue
        pages += 1
        # form field names are what the browser posts back, not words anyone reads
        text = html.unescape(re.sub(r'\sname="[^"]*"', " ", resp.get_data(as_text=True)))
        for value in data:
            text = text.replace(value, " ")
        for run in CJK_RUN.findall(text):
            problems.append(f"{path}: {run}")
    assert pages >= (30 if role == "admin" else 12), pages
    assert not problems, f"Chinese interface text on English pages ({len(problems)}):\n" + "\n".join(problems[:300])


def test_command_line_speaks_tracker_lang(app, db, monkeypatch, tmp_path):
    from flask_babel import refresh

    runner = app.test_cli_runner()
    missing = str(tmp_path / "none.yaml")
    assert "文件不存在" in runner.invoke(args=["plan", "import", missing]).output
    monkeypatch.setenv("TRACKER_LANG", "en")
    refresh()  # the test's app context is shared with the runner; a real command starts with a fresh one
    result = runner.invoke(args=["plan", "import", missing])
    assert result.exit_code == 1 and "does not exist" in result.output and not CJK.search(result.output)


def test_catalogues_compile_when_the_po_is_newer(tmp_path):
    import os

    from babel.support import Translations

    from tracker.i18n import compile_catalogues

    folder = tmp_path / "en" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "messages.po"
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\nmsgid "任务"\nmsgstr "Tasks"\n')
    assert compile_catalogues(tmp_path) == [folder / "messages.mo"]
    assert Translations.load(str(tmp_path), ["en"]).gettext("任务") == "Tasks"
    assert compile_catalogues(tmp_path) == []  # up to date: nothing written
    po.write_text(po.read_text().replace('"Tasks"', '"Jobs"'))
    os.utime(po, (po.stat().st_atime, (folder / "messages.mo").stat().st_mtime + 5))
    assert compile_catalogues(tmp_path) == [folder / "messages.mo"]
    assert Translations.load(str(tmp_path), ["en"]).gettext("任务") == "Jobs"
    assert sorted(p.name for p in folder.iterdir()) == ["messages.mo", "messages.po"]  # no temporary file left
