"""Task forms. Each carries the version the user saw, so a stale form gets a conflict, not a lost update."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class VersionedForm(FlaskForm):
    version = HiddenField()


class ActionForm(VersionedForm):
    event = HiddenField(validators=[DataRequired()])
    comment = TextAreaField(_l("意见/理由"), validators=[Optional(), Length(max=5000)])


class ProgressForm(VersionedForm):
    percent = IntegerField(_l("完成进度（%）"), validators=[InputRequired(_l("请填写完成进度")), NumberRange(0, 100, _l("完成进度应为 0–100"))])
    text = TextAreaField(_l("进展情况"), validators=[DataRequired(_l("请填写进展情况")), Length(max=5000)])


class EvidenceForm(VersionedForm):
    file = FileField(_l("佐证材料"), validators=[FileRequired(_l("请选择文件"))])
    note = StringField(_l("说明"), validators=[Optional(), Length(max=500)])


class ExtensionForm(VersionedForm):
    new_deadline = DateField(_l("申请延至"), validators=[DataRequired(_l("请选择新的完成时限"))])
    reason = TextAreaField(_l("延期理由"), validators=[DataRequired(_l("请填写延期理由")), Length(max=5000)])


class DecisionForm(FlaskForm):
    decision = HiddenField(validators=[DataRequired()])
    comment = TextAreaField(_l("审批意见"), validators=[Optional(), Length(max=5000)])
