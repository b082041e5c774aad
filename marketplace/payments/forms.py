"""The payment form, and the operator's form that settles a dispute (the amounts per
factory are fields of their own, one per factory of the order)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class PayForm(FlaskForm):
    # The simulated gateway's choice, or the id Stripe.js made for the card.
    payment_method = StringField(_l("Payment method"), validators=[DataRequired(), Length(max=120)])


class ResolveForm(FlaskForm):
    resolution = TextAreaField(_l("Resolution"), validators=[DataRequired(), Length(max=4000)])
