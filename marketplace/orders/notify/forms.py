"""The webhook endpoint form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from marketplace.orders.notify.events import WEBHOOK_EVENTS
from marketplace.web.forms import CheckboxesField


class WebhookForm(FlaskForm):
    url = URLField(_l("Endpoint URL"), validators=[DataRequired(), Length(max=500)])
    events = CheckboxesField(
        _l("Events"),
        choices=[SelectChoice(e, e) for e in WEBHOOK_EVENTS],
        default=list(WEBHOOK_EVENTS),
    )
