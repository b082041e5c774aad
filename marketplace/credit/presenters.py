"""How a credit score is shown, for pages and the API alike: the score, the prior a
newcomer starts at, and per component its weight, value and the events behind it (with
their orders for those who may see them, `full`)."""

from __future__ import annotations

from typing import Any

from factories.credit.score import PRIOR_MEAN, Standing


def breakdown(standing: Standing, *, full: bool) -> dict[str, Any]:
    components = []
    for part in standing.parts:
        entry: dict[str, Any] = {
            "name": part.name,
            "weight": part.weight,
            "value": round(part.value, 4),
            "points": round(part.points, 4),
            "good": round(part.good, 3),
            "bad": round(part.bad, 3),
            "events": len(part.events),
        }
        if full:
            entry["order_ids"] = sorted({o for _, o in part.events if o is not None})
            entry["event_ids"] = [e for e, _ in part.events]
        components.append(entry)
    return {
        "score": standing.score,
        "prior": PRIOR_MEAN,
        "events": standing.events,
        "components": components,
    }
