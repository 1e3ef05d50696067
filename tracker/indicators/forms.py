"""Indicator forms: school data upload, county entries, catalog edits (parsed into plain values for the operations)."""
from __future__ import annotations

import math
from typing import Any, Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from tracker.errors import Invalid
from tracker.indicators.catalog import Indicator
from tracker.indicators.store import key_label


class PostForm(FlaskForm):
    """A button that only needs the CSRF token (evaluate, attach, resolve, catalog edits)."""


class UploadForm(FlaskForm):
    year = IntegerField(_l("数据年度"), validators=[InputRequired(_l("请填写数据年度")),
                                                  NumberRange(2000, 2100, _l("年度应为四位数字"))])
    file = FileField(_l("学校数据文件（.xlsx 或 .csv）"), validators=[FileRequired(_l("请选择文件"))])


class EntryForm(FlaskForm):
    code = HiddenField(validators=[DataRequired()])
    value = StringField(_l("数值"), validators=[Optional(), Length(max=100)])
    value_primary = StringField(_l("小学"), validators=[Optional(), Length(max=50)])
    value_junior = StringField(_l("初中"), validators=[Optional(), Length(max=50)])
    note = TextAreaField(_l("说明"), validators=[Optional(), Length(max=2000)])
    files = MultipleFileField(_l("佐证材料"))

    def raw_value(self, ind: Indicator) -> Any:
        """The value as typed: text, or {level: text} for a per-level indicator (G13)."""
        if ind.per_level:
            parts = {"primary": self.value_primary.data, "junior": self.value_junior.data}
            parts = {k: (v or "").strip() for k, v in parts.items() if k in ind.thresholds}
            return parts if any(parts.values()) else ""
        return (self.value.data or "").strip()

    def uploads(self) -> list[tuple[Any, str]]:
        return [(f.stream, f.filename or "") for f in (self.files.data or []) if f and getattr(f, "filename", "")]


def _number(text: Any, label: str) -> float | int:
    raw = str(text if text is not None else "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise Invalid(_("%(label)s 应为数字，收到“%(raw)s”。", label=label, raw=raw)) from None
    if not math.isfinite(value):
        raise Invalid(_("%(label)s 应为数字。", label=label))
    return int(value) if value.is_integer() else value


def parse_indicator_edit(form: Mapping[str, Any], ind: Indicator) -> dict[str, Any]:
    """Fields threshold, thresholds.<key>, cv_limit.<level>, note, uncertain → a change dict for update_indicator."""
    changes: dict[str, Any] = {}
    if ind.comparison != "bool":
        if ind.thresholds:
            changes["thresholds"] = {key: _number(form.get(f"thresholds.{key}"),
                                                  _("%(code)s（%(key)s）标准值", code=ind.code, key=key_label(key)))
                                     for key in ind.thresholds if f"thresholds.{key}" in form}
        elif "threshold" in form:
            changes["threshold"] = _number(form.get("threshold"), _("%(code)s 标准值", code=ind.code))
    if ind.cv_limit:
        changes["cv_limit"] = {lvl: _number(form.get(f"cv_limit.{lvl}"), _("%(code)s 差异系数限值", code=ind.code))
                               for lvl in ind.cv_limit if f"cv_limit.{lvl}" in form}
    if "note" in form:
        changes["note"] = (form.get("note") or "").strip()
    if "uncertain_present" in form:
        changes["uncertain"] = form.get("uncertain") in ("1", "on", "true", "y")
    return {k: v for k, v in changes.items() if v != {}}


def parse_rules_edit(form: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "min_met" in form:
        value = _number(form.get("min_met"), _("达标项数"))
        if not isinstance(value, int):
            raise Invalid(_("达标项数应为整数。"))
        changes["min_met"] = value
    if "floor_ratio" in form:
        changes["floor_ratio"] = float(_number(form.get("floor_ratio"), _("其余指标最低比例")))
    return changes
