"""Supervision forms. Checkbox lists (tasks on the board, an interview's reasons) are read with getlist."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, DateTimeLocalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from tracker.supervision.models import ACCOUNTABILITY_TYPE_LABELS
from tracker.tasks.filters import choices


class PostForm(FlaskForm):
    """CSRF only (acknowledge, resolve …)."""


class InstructionForm(FlaskForm):
    text = TextAreaField(_l("批示内容"), validators=[DataRequired(_l("请填写批示内容")), Length(max=5000)])
    new_deadline = DateField(_l("新的完成时限（可选）"), validators=[Optional()])


class ResolveForm(FlaskForm):
    note = StringField(_l("处理说明"), validators=[Optional(), Length(max=1000)])


class InterviewForm(FlaskForm):
    unit = HiddenField(validators=[DataRequired(_l("请选择被约谈单位"))])
    flag = HiddenField()
    scheduled_at = DateTimeLocalField(_l("约谈时间"), format="%Y-%m-%dT%H:%M", validators=[DataRequired(_l("请填写约谈时间"))])
    place = StringField(_l("约谈地点"), validators=[DataRequired(_l("请填写约谈地点")), Length(max=200)])
    attendees = TextAreaField(_l("约谈人"), validators=[Optional(), Length(max=5000)])
    interviewees = TextAreaField(_l("被约谈人"), validators=[Optional(), Length(max=5000)])
    extra = TextAreaField(_l("其他事由（每行一条）"), validators=[Optional(), Length(max=5000)])


class VersionedForm(FlaskForm):
    version = HiddenField()


class HoldForm(VersionedForm):
    minutes = TextAreaField(_l("约谈记录"), validators=[DataRequired(_l("请填写约谈记录")), Length(max=5000)])
    outcome = TextAreaField(_l("约谈结果"), validators=[DataRequired(_l("请填写约谈结果")), Length(max=5000)])


class CloseForm(VersionedForm):
    comment = TextAreaField(_l("说明"), validators=[Optional(), Length(max=5000)])


class CancelForm(VersionedForm):
    reason = TextAreaField(_l("取消理由"), validators=[DataRequired(_l("请填写取消理由")), Length(max=5000)])


class ItemForm(FlaskForm):
    text = StringField(_l("整改事项"), validators=[DataRequired(_l("请填写整改事项")), Length(max=300)])
    unit = SelectField(_l("责任单位"), validators=[DataRequired(_l("请选择责任单位"))])
    deadline = DateField(_l("整改期限"), validators=[DataRequired(_l("请填写整改期限"))])
    measure = SelectField(_l("关联措施"), validators=[DataRequired(_l("请选择关联措施"))])


class AccountabilityForm(FlaskForm):
    type = SelectField(_l("问责方式"), choices=choices(ACCOUNTABILITY_TYPE_LABELS.items()),
                       validators=[DataRequired(_l("请选择问责方式"))])
    doc_number = StringField(_l("问责文号"), validators=[DataRequired(_l("请填写问责文号")), Length(max=100)])
    decided_on = DateField(_l("决定日期"), validators=[DataRequired(_l("请填写决定日期"))])
    note = TextAreaField(_l("备注"), validators=[Optional(), Length(max=5000)])
    file = FileField(_l("问责决定文件（可选）"))
