"""The task-list filter form (GET): county, department, measure, state, ladder, overdue, text; paginated."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from markupsafe import Markup, escape
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import Select, html_params
from wtforms.validators import Length, Optional

from workflows import LADDER_LABELS, STATE_LABELS


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(str(value), label) for value, label in pairs]


class LongSelect(Select):
    """A <select> with the markup of wtforms' Select, for lists of hundreds or thousands of options.

    wtforms builds each option through html_params and Markup.format (~0.1 ms apiece); here each option
    is one f-string with its value and label escaped, so a list of every county costs a few milliseconds.
    """

    def __call__(self, field, **kwargs):
        if field.has_groups():
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        data = field.data
        coerce = field.coerce
        html = [f"<select {html_params(name=field.name, **kwargs)}>"]
        for choice in field._choices_from_input(field.choices) or []:
            value = choice.value
            label = escape(choice.label or value)
            selected = " selected" if coerce(value) == data else ""
            html.append(f'<option{selected} value="{escape(value)}">{label}</option>')
        html.append("</select>")
        return Markup("".join(html))


class TaskFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = StringField(_l("关键词"), validators=[Optional(), Length(max=100)])
    county = SelectField(_l("县市"), choices=[], validators=[Optional()], validate_choice=False, widget=LongSelect())
    department = SelectField(_l("部门"), choices=[], validators=[Optional()], validate_choice=False, widget=LongSelect())
    measure = SelectField(_l("措施"), choices=[], validators=[Optional()], validate_choice=False, widget=LongSelect())
    plan = SelectField(_l("方案"), choices=[], validators=[Optional()], validate_choice=False, widget=LongSelect())
    status = SelectField(_l("状态"), choices=lambda: choices([("", _("全部")), *STATE_LABELS.items()]), validators=[Optional()])
    ladder = SelectField(lazy_pgettext("column", "督办"), choices=lambda: choices([("", _("全部")), *LADDER_LABELS.items()]), validators=[Optional()])
    overdue = BooleanField(_l("仅看逾期"))

    def filters(self) -> dict:
        """The query filters; a bad value (tampered URL) is ignored rather than trusted."""
        def as_int(value):
            return int(value) if value and str(value).isdigit() else None

        unit_id = as_int(self.county.data) or as_int(self.department.data)
        return {
            "plan_id": as_int(self.plan.data),
            "q": (self.q.data or "").strip()[:100] or None,
            "unit_id": unit_id,
            "measure_id": as_int(self.measure.data),
            "status": self.status.data if self.status.data in STATE_LABELS else None,
            "ladder": self.ladder.data if self.ladder.data in LADDER_LABELS else None,
        }
