"""Forms of the notices pages: delivery preferences, and CSRF-only forms for the buttons."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from tracker.notices.models import WEBHOOK_FLAVOR_LABELS


class ButtonForm(FlaskForm):
    """CSRF only (mark read, retry)."""


class PreferenceForm(FlaskForm):
    email_enabled = BooleanField(_l("接收邮件通知"))
    digest_daily = BooleanField(_l("每天汇总成一封（每日待办），不逐条发送"))
    webhook_url = StringField(_l("个人 Webhook / 群机器人地址"), validators=[Optional(), Length(max=500)])
    webhook_flavor = SelectField(_l("机器人类型"), choices=[SelectChoice(k, v) for k, v in WEBHOOK_FLAVOR_LABELS.items()])
    webhook_secret = StringField(_l("加签密钥（可选；留空保持不变）"), validators=[Optional(), Length(max=200)])
    clear_secret = BooleanField(_l("清除已保存的密钥"))

    def validate_webhook_url(self, field):
        if field.data:
            from notifications.channels import WebhookChannel

            try:
                WebhookChannel(field.data.strip(), flavor=self.webhook_flavor.data or "dingtalk")
            except ValueError:
                raise ValidationError(_("请填写以 http:// 或 https:// 开头的地址。")) from None

    def validate_webhook_secret(self, field):
        if field.data and self.webhook_flavor.data == "wecom":
            raise ValidationError(_("企业微信群机器人不支持加签，请留空。"))
