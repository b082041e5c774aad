"""Service messages in the reader's language.

Services speak English and mark their messages with `factories.errors.N_`, which keeps
the template and its values; pages pass what a service said through `say`. Taxonomy codes
and states among the values become labels in the reader's language."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import get_locale, gettext

from factories.errors import Message
from marketplace.supply import texts

LABELS: dict[str, Callable[[str, str], str]] = {
    "process": texts.process_label,
    "resource": texts.process_label,
    "material": texts.material_label,
    "certification": texts.certification_label,
}


def say(message: object) -> str:
    """What a service said (a message, or the error carrying it), in the reader's language;
    a text without a translation stays as it is."""
    if isinstance(message, BaseException):
        message = message.args[0] if message.args else str(message)
    if isinstance(message, Message):
        from marketplace.orders.views import state_label

        locale = str(get_locale())
        values = {}
        for name, value in message.values.items():
            if name in LABELS and isinstance(value, str):
                value = LABELS[name](value, locale)
            elif name == "state" and isinstance(value, str):
                value = state_label(value)  # an order's, a proposal's or a milestone's
            values[name] = value
        return gettext(message.template, **values)
    text = str(message)
    return gettext(text) if text else text
