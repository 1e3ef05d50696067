"""The task-list filter form (GET): county, department, measure, state, ladder, overdue, text; paginated."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from workflows import LADDER_LABELS, STATE_LABELS


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(str(value), label) for value, label in pairs]


class TaskFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = StringField("关键词", validators=[Optional(), Length(max=100)])
    county = SelectField("县市", choices=[], validators=[Optional()], validate_choice=False)
    department = SelectField("部门", choices=[], validators=[Optional()], validate_choice=False)
    measure = SelectField("措施", choices=[], validators=[Optional()], validate_choice=False)
    plan = SelectField("方案", choices=[], validators=[Optional()], validate_choice=False)
    status = SelectField("状态", choices=lambda: choices([("", "全部"), *STATE_LABELS.items()]), validators=[Optional()])
    ladder = SelectField("督办", choices=lambda: choices([("", "全部"), *LADDER_LABELS.items()]), validators=[Optional()])
    overdue = BooleanField("仅看逾期")

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
