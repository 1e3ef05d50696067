"""Indicator pages: county evaluation for a year, trends across years, county-level entries, school data
upload and template, the catalog (admin edits), slippage flags, and a task's indicator panel.

Views parse, call an operation, render. A county unit user sees only its own county (others 404).
"""
from __future__ import annotations

import io
import math

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select

from tracker.clock import today
from tracker.errors import ServiceError
from tracker.extensions import db
from tracker.i18n import current_language
from tracker.indicators import charts, store
from tracker.indicators import operations as ops
from tracker.indicators.forms import EntryForm, PostForm, UploadForm, parse_indicator_edit, parse_rules_edit
from tracker.indicators.models import CountyEntryFile, CountyFlag
from tracker.indicators.schooldata import COLUMNS, IMPORT_TYPES, RowError, SchoolDataInvalid, template_workbook
from tracker.permissions import roles_required, task_or_404
from tracker.tasks import evidence as evidence_store
from tracker.units.models import Unit

bp = Blueprint("indicators", __name__, url_prefix="/indicators")

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ── template helpers ────────────────────────────────────────────────────────────────────────
@bp.app_template_filter("ind_num")
def ind_num(value, digits: int = 2) -> str:
    """Numbers for tables: up to `digits` decimals, no trailing zeros; per-level dicts; '—' for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, dict):
        return _("；").join(f"{store.key_label(k)} {ind_num(v, digits)}" for k, v in value.items())
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return "—"
        text = f"{value:,.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


@bp.app_template_filter("key_label")
def key_label(value: str) -> str:
    """A school level or school type key (primary, 九年一贯制 …) in the reader's language."""
    return store.key_label(value)


@bp.app_template_global("indicator_task_status")
def indicator_task_status(task):
    """For a task page: the linked indicators' verdicts (see templates/indicators/_task_panel.html)."""
    return ops.task_indicator_status(task)


@bp.app_template_global("can_view_county_indicators")
def can_view_county_indicators(user=None) -> bool:
    user = user or current_user
    return bool(getattr(user, "is_authenticated", False)) and (
        user.has_role(*ops.OVERSEERS) or (user.has_role("unit") and user.unit is not None and user.unit.kind_value == "county"))


def _county_or_404(code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code, Unit.kind == "county"))
    if unit is None or not ops.can_view_county(current_user, unit):
        abort(404)
    return unit


def _sentences(parts) -> str:
    """Sentences of one message: run together in Chinese, spaced in English."""
    return ("" if current_language() == "zh" else " ").join(str(p) for p in parts)


def _failed(exc: Exception, target: str):
    db.session.rollback()
    flash(str(exc), "danger")
    return redirect(target)


def _posted() -> None:
    if not PostForm().validate_on_submit():
        abort(400)


# ── counties ────────────────────────────────────────────────────────────────────────────────
@bp.route("/")
@login_required
def index():
    if not current_user.has_role(*ops.OVERSEERS):
        unit = current_user.unit
        if unit is None or unit.kind_value != "county":
            abort(404)
        return redirect(url_for("indicators.county", code=unit.code))
    return render_template("indicators/index.html", rows=store.overview())


@bp.route("/counties/<code>")
@login_required
def county(code: str):
    unit = _county_or_404(code)
    latest = store.latest_evaluation(unit.id)
    return redirect(url_for("indicators.county_year", code=unit.code, year=latest.year if latest else today().year))


@bp.route("/counties/<code>/<int:year>")
@login_required
def county_year(code: str, year: int):
    unit = _county_or_404(code)
    page = store.county_year_page(unit, year)
    return render_template("indicators/county.html", **page, form=PostForm(),
                           may_act=ops.can_act_for_county(current_user, unit), levels=store.LEVEL_LABELS,
                           aspects=store.ASPECT_LABELS,
                           charts=charts.year_charts(unit, year, page["result"], page["catalog"]))


@bp.route("/counties/<code>/<int:year>/evaluate", methods=["POST"])
@login_required
def evaluate(code: str, year: int):
    unit = _county_or_404(code)
    _posted()
    target = url_for("indicators.county_year", code=unit.code, year=year)
    try:
        row = ops.evaluate(unit, year, current_user)
    except ServiceError as exc:
        return _failed(exc, target)
    db.session.commit()
    said = [_("已重新评估：%(verdict)s。", verdict=_("达标") if row.passed else _("未达标"))]
    if row.effects["ready"]:
        said.append(ngettext("%(num)d 条措施的关联指标已达标，已通知可以办结。",
                             "%(num)d 条措施的关联指标已达标，已通知可以办结。", len(row.effects["ready"])))
    if row.effects["reopened"]:
        said.append(ngettext("因指标滑坡重新打开 %(num)d 项已办结任务。", "因指标滑坡重新打开 %(num)d 项已办结任务。",
                             len(row.effects["reopened"])))
    flash(_sentences(said), "success")
    return redirect(target)


@bp.route("/counties/<code>/trend")
@login_required
def trend(code: str):
    unit = _county_or_404(code)
    return render_template("indicators/trend.html", **store.trend(unit), levels=store.LEVEL_LABELS,
                           codes=[f"R{i}" for i in range(1, 8)], aspects=store.ASPECT_LABELS,
                           charts=charts.trend_charts(unit, store.current_catalog()))


@bp.route("/counties/<code>/<int:year>/entries", methods=["GET", "POST"])
@login_required
def entries(code: str, year: int):
    unit = _county_or_404(code)
    target = url_for("indicators.entries", code=unit.code, year=year)
    catalog = store.current_catalog()
    if request.method == "POST":
        form = EntryForm()
        if not form.validate_on_submit():
            flash(_("；").join(str(e) for errs in form.errors.values() for e in errs) or _("表单无效，请重试。"), "danger")
            return redirect(target)
        ind = catalog.by_code.get(form.code.data) or abort(400)
        try:
            done = ops.set_entry(unit, year, ind.code, form.raw_value(ind), form.note.data or "", current_user,
                                 form.uploads(), catalog=catalog)
        except ServiceError as exc:
            return _failed(exc, f"{target}#{ind.code}")
        db.session.commit()
        said = [_("已保存 %(code)s %(name)s。", code=ind.code, name=ind.name)]
        if done["evaluation"] is not None:
            said.append(_("已按新数值重新评估：%(verdict)s。",
                          verdict=_("达标") if done["evaluation"].passed else _("未达标")))
        flash(_sentences(said), "success")
        return redirect(f"{target}#{ind.code}")
    return render_template("indicators/entries.html", unit=unit, year=year, items=ops.enterable(catalog),
                           entries=ops.entries_with_files(unit, year), aspects=store.ASPECT_LABELS,
                           may_act=ops.can_act_for_county(current_user, unit), form=EntryForm(),
                           ranges={i.code: ops.entry_range(i) for i in catalog.indicators})


@bp.route("/entry-files/<int:file_id>")
@login_required
def entry_file(file_id: int):
    item = db.session.get(CountyEntryFile, file_id) or abort(404)
    _county_or_404(db.session.get(Unit, item.entry.unit_id).code)
    path = evidence_store.stored_path(item.sha256)
    if not path.exists():
        abort(410)
    return send_file(path, mimetype=item.stored.mimetype, as_attachment=True, download_name=item.filename,
                     conditional=True, max_age=0)


# ── school data ─────────────────────────────────────────────────────────────────────────────
def _may_upload() -> bool:
    return current_user.has_role("admin") or (current_user.has_role("unit") and current_user.unit is not None
                                              and current_user.unit.kind_value == "county")


@bp.route("/schools/upload", methods=["GET", "POST"])
@login_required
def upload():
    if not _may_upload():
        abort(403)
    form = UploadForm()
    if request.method == "GET":
        form.year.data = form.year.data or today().year
    problems, result = [], None
    if form.validate_on_submit():
        try:
            result = ops.import_schools(form.file.data.read(), form.file.data.filename or "", form.year.data,
                                        current_user, evaluate_after=True)
        except SchoolDataInvalid as exc:
            db.session.rollback()
            problems = exc.problems
        except ServiceError as exc:
            db.session.rollback()
            problems = [RowError(None, "", "", str(exc))]
        else:
            db.session.commit()
            flash(ngettext("已导入 %(num)d 所学校的 %(year)s 年数据，并重新评估了相关县市。",
                           "已导入 %(num)d 所学校的 %(year)s 年数据，并重新评估了相关县市。", result["rows"],
                           year=result["year"]), "success")
    elif request.method == "POST":
        problems = [RowError(None, str(getattr(form, k).label.text), "", _("；").join(str(e) for e in v))
                    for k, v in form.errors.items()]
    return render_template("indicators/upload.html", form=form, problems=problems, result=result,
                           types=IMPORT_TYPES, columns=COLUMNS), 422 if problems else 200


@bp.route("/schools/template.xlsx")
@login_required
def template():
    return send_file(io.BytesIO(template_workbook(today().year)), mimetype=XLSX_MIME, as_attachment=True,
                     download_name=_("学校数据导入模板.xlsx"), max_age=0)


# ── catalog ─────────────────────────────────────────────────────────────────────────────────
@bp.route("/catalog")
@login_required
def catalog():
    return render_template("indicators/catalog.html", **store.catalog_state(), aspects=store.ASPECT_LABELS,
                           levels=store.LEVEL_LABELS, form=PostForm(), editable=current_user.has_role("admin"))


@bp.route("/catalog/rules", methods=["POST"])
@roles_required("admin")
def catalog_rules():
    _posted()
    target = url_for("indicators.catalog") + "#rules"
    try:
        store.update_rules(parse_rules_edit(request.form), current_user)
    except ServiceError as exc:
        return _failed(exc, target)
    db.session.commit()
    flash(_("已保存资源配置规则。已存储的评估结果需重新评估后才按新规则计算。"), "success")
    return redirect(target)


@bp.route("/catalog/<code>", methods=["POST"])
@roles_required("admin")
def catalog_edit(code: str):
    _posted()
    target = url_for("indicators.catalog") + f"#{code}"
    ind = store.current_catalog().by_code.get(code) or abort(404)
    try:
        store.update_indicator(code, parse_indicator_edit(request.form, ind), current_user)
    except ServiceError as exc:
        return _failed(exc, target)
    db.session.commit()
    flash(_("已保存 %(code)s 的标准值。已存储的评估结果需重新评估后才按新标准计算。", code=code), "success")
    return redirect(target)


# ── flags ───────────────────────────────────────────────────────────────────────────────────
@bp.route("/flags")
@roles_required(*ops.OVERSEERS)
def flags():
    return render_template("indicators/flags.html", flags=store.all_flags(), form=PostForm())


@bp.route("/flags/<int:flag_id>/resolve", methods=["POST"])
@roles_required("supervisor", "admin")
def resolve_flag(flag_id: int):
    flag = db.session.get(CountyFlag, flag_id) or abort(404)
    _posted()
    ops.resolve_flag(flag, current_user)
    db.session.commit()
    flash(_("已标记为已处理。"), "success")
    return redirect(url_for("indicators.flags"))


# ── a task's indicators ─────────────────────────────────────────────────────────────────────
@bp.route("/tasks/<int:task_id>")
@login_required
def task_panel(task_id: int):
    task = task_or_404(task_id, current_user)
    return render_template("indicators/task.html", task=task, status=ops.task_indicator_status(task), form=PostForm(),
                           is_owner=current_user.has_role("unit") and current_user.unit_id == task.unit_id)


@bp.route("/tasks/<int:task_id>/attach", methods=["POST"])
@login_required
def attach(task_id: int):
    task = task_or_404(task_id, current_user)
    _posted()
    try:
        item = ops.attach_evaluation(task, current_user)
    except ServiceError as exc:
        return _failed(exc, url_for("indicators.task_panel", task_id=task.id))
    db.session.commit()
    flash(_("已附上佐证：%(name)s。", name=item.filename), "success")
    return redirect(url_for("tasks.detail", task_id=task.id))
