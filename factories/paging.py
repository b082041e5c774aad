"""Lists a page at a time: one page of items with the figures a pager shows, and the one
check of the page asked for.

Pages count from 1. A page past the end is empty (not an error), so a link that was
right a moment ago stays harmless; a page below 1, or a page size outside
1..`max_per_page`, is an input error naming `page` or `per_page`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

from factories.errors import N_, Problems

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def check_paging(page: int, per_page: int, max_per_page: int) -> Problems:
    """The problems of a page request (none: it can be served)."""
    problems = Problems()
    if page < 1:
        problems.add("page", N_("must be 1 or more"))
    if not 1 <= per_page <= max_per_page:
        problems.add("per_page", N_("must be from 1 to %(maximum)s", maximum=max_per_page))
    return problems


def offset(page: int, per_page: int) -> int:
    """How many items come before the first of `page`."""
    return (page - 1) * per_page


def page_number(text: str | None) -> int:
    """The page a link asks for (`?page=3`); anything that is not a page number, such
    as a link typed by hand, asks for the first page."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        return 1
    return max(1, int(text))
