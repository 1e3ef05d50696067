"""Notifications: delivery channels, Chinese message texts, working days.

Plain Python (no Flask / SQLAlchemy here):

* :mod:`notifications.channels` — ``Message``, ``SmtpChannel``,
  ``WebhookChannel``, ``DeliveryError``, ``retry_delay`` ...;
  the in-app channel (``INAPP``) is implemented next to the models.
* :mod:`notifications.messages` — subject/text/html builders.
* :mod:`notifications.workdays` — ``ChineseWorkCalendar`` (法定节假日 + 调休)
  reading ``data/holidays/YYYY.yaml``.
"""

from .channels import (  # noqa: F401
    CHANNEL_NAMES,
    EMAIL,
    INAPP,
    MAX_ATTEMPTS,
    WEBHOOK,
    Channel,
    DeliveryError,
    DeliveryResult,
    Message,
    SmtpChannel,
    WebhookChannel,
    retry_delay,
    should_retry,
)
