from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from marketplace.accounts.service import MIN_PASSWORD_LENGTH
from marketplace.web.forms import CountryField


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class LogoutForm(FlaskForm):
    pass


def _new_password_field(label: str | LazyString) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1024,
                message=_l("Use at least %(min)d characters.", min=MIN_PASSWORD_LENGTH),
            ),
        ],
    )


class OrganizationFields:
    organization_name = StringField(
        _l("Organization name"), validators=[DataRequired(), Length(max=200)]
    )
    kind = RadioField(
        _l("Your organization"),
        choices=[
            SelectChoice("buyer", _l("We buy manufacturing capacity")),
            SelectChoice("factory", _l("We are a factory with capacity to offer")),
        ],
        validators=[InputRequired(message=_l("Choose buyer or factory."))],
    )
    country = CountryField(_l("Country"), validators=[DataRequired()])


class SignupForm(FlaskForm, OrganizationFields):
    display_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Work email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = _new_password_field(_l("Password"))
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )

    def validate_password(self, field: PasswordField) -> None:
        # The service's own rule, here too so that it shows with the form's other messages.
        email = (self.email.data or "").strip().lower()
        if email and (field.data or "").strip().lower() == email:
            raise ValidationError(_l("The password must not be the email address."))


class StartOrganizationForm(FlaskForm, OrganizationFields):
    pass


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = _new_password_field(_l("New password"))
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ClientForm(FlaskForm):
    name = StringField(_l("Machine name"), validators=[DataRequired(), Length(max=120)])
    scopes = MultiCheckboxField(_l("Allowed scopes"), choices=[])

    def validate_scopes(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError(_l("Choose at least one scope."))


class RevokeForm(FlaskForm):
    pass


class InviteForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    display_name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    role = RadioField(_l("Role"), choices=[], validators=[InputRequired()])


class ConfirmForm(FlaskForm):
    """A button that confirms a step a mailed link leads to (a GET alone changes nothing,
    so that a mail scanner following the link does not spend it)."""


class JoinForm(FlaskForm):
    """Accepting an invitation to an address that has no account yet."""

    display_name = StringField(_l("Your name"), validators=[Optional(), Length(max=120)])
    password = _new_password_field(_l("Password"))
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
