"""Words of the supply side: factory statuses and why a search result matches."""

from __future__ import annotations

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from factories.search.filters import Reason
from marketplace.web.labels import certification_label, hours, material_label, money, process_label

STATUS_LABELS = {
    "pending": _l("Pending verification"),
    "verified": _l("Verified"),
    "suspended": _l("Suspended"),
}


def reason_text(reason: Reason, locale: str) -> str:
    """One sentence saying why a search result matches."""
    d = reason.data
    if reason.kind == "process":
        offered = ", ".join(process_label(p, locale) for p in d["offered"])
        if d["specialized"]:
            return _(
                "Offers %(offered)s, which can do %(requested)s work",
                offered=offered,
                requested=process_label(d["requested"], locale),
            )
        return _("Offers %(offered)s", offered=offered)
    if reason.kind == "processes":
        return _(
            "Offers %(offered)s",
            offered=", ".join(process_label(p, locale) for p in d["offered"]),
        )
    if reason.kind == "material":
        return _("Processes %(material)s", material=material_label(d["material"], locale))
    if reason.kind == "certification":
        return _(
            "%(certification)s valid until %(date)s",
            certification=certification_label(d["certification"], locale),
            date=d["valid_until"].isoformat(),
        )
    if reason.kind == "envelope":
        return _(
            "Parts up to %(envelope)s mm fit (asked: %(requested)s mm)",
            envelope=" × ".join(str(v) for v in d["envelope"]),
            requested=" × ".join(str(v) if v else "–" for v in d["requested"]),
        )
    if reason.kind == "tolerance":
        return _("Holds %(tolerance)s or finer", tolerance=d["tolerance_class"])
    if reason.kind == "location":
        return _("Located in %(region)s (%(country)s)", region=d["region"], country=d["country"])
    if reason.kind == "free_hours":
        text = _(
            "%(hours)s free hours in %(first)s to %(last)s",
            hours=hours(d["hours"]),
            first=d["week_from"],
            last=d["week_to"],
        )
        if d["minimum"] is not None:
            text += " " + _("(asked at least %(minimum)s)", minimum=hours(d["minimum"]))
        return text
    if reason.kind == "credit":
        text = _("Credit score %(score)s", score=format_decimal(d["score"], "0.00"))
        if d["minimum"] is not None:
            text += " " + _(
                "(asked at least %(minimum)s)", minimum=format_decimal(d["minimum"], "0.00")
            )
        return text
    if reason.kind == "price":
        return _("From %(rate)s per hour", rate=money(d["rate_minor"], d["currency"]))
    if reason.kind == "distance":
        return _("%(km)s km from you", km=format_decimal(d["km"], "#,##0"))
    return reason.kind
