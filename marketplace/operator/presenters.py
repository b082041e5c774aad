"""Shown alike on every operator page: hours, weeks, shares and money in the reader's
language (the area's templates get these names)."""

from __future__ import annotations

from typing import Any

from flask_babel import format_percent

from marketplace.operator.blueprints import pages
from marketplace.operator.charts import PLOTLY_MAP_STYLE_ID
from marketplace.web import labels


def percent(value: float | None) -> str:
    return "—" if value is None else format_percent(value, "#,##0.0%")


def share(value: float | None) -> str:
    """A 0..1 property: two places."""
    return "—" if value is None else f"{value:.2f}"


@pages.context_processor
def operator_context() -> dict[str, Any]:
    return {
        "hours": labels.hours,
        "week": labels.week,
        "percent": percent,
        "share": share,
        "money": labels.money,
        "plotly_map_style_id": PLOTLY_MAP_STYLE_ID,
    }
