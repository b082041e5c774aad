"""The one error the supply-side services raise: what is wrong, and with which field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Values under these names are taxonomy codes: the English text shows their English
# label, a page their label in the reader's language. A `resource` (a capacity line) keeps
# its code in English, where API clients know it by that name.
LABELLED_VALUES = ("process", "material", "certification")


def english_label(name: str, value: object) -> object:
    from factories.taxonomy import CERTIFICATIONS, MATERIALS, PROCESSES

    table = {"process": PROCESSES, "material": MATERIALS, "certification": CERTIFICATIONS}
    entry = table[name].get(value) if isinstance(value, str) else None  # type: ignore[attr-defined]
    return entry.en if entry is not None else value


class Message(str):
    """An English message that keeps its template and values, so that a page can say it
    in the reader's language (`gettext(template) % values`); everywhere else (the API, the
    command line, logs) it is the plain English text."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, values: Mapping[str, object] | None = None) -> Message:
        values = dict(values or {})
        english = {k: english_label(k, v) if k in LABELLED_VALUES else v for k, v in values.items()}
        message = super().__new__(cls, template % english if values else template)
        message.template = template
        message.values = values
        return message


def N_(template: str, **values: object) -> Message:
    """Marks a service message for translation, like `_`, without translating it here:
    services speak English, pages translate (see LABELLED_VALUES for taxonomy codes)."""
    return Message(template, values)


class FactoryError(ValueError):
    """A rule of the supply side was broken; nothing has been written.

    `field` and `message` name the first problem; `problems` lists all of them, so that a
    form or an API answer can point at every faulty input at once.
    """

    def __init__(
        self, field: str, message: str, problems: Iterable[tuple[str, str]] | None = None
    ) -> None:
        self.problems: list[tuple[str, str]] = list(problems or [(field, message)])
        self.field, self.message = self.problems[0]
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.problems))


class Problems:
    """Collects every problem of an input before anything is saved."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append((field, message))

    def extend(self, other: Problems) -> None:
        self.items.extend(other.items)

    def add_error(self, error: FactoryError) -> None:
        self.items.extend(error.problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            field, message = self.items[0]
            raise FactoryError(field, message, self.items)
