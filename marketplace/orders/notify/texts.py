"""Notifications in words, in the reader's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from marketplace.web.labels import current_locale, money, process_label, state_label


def notification_text(n: Any) -> str:
    p = n.params or {}
    title = p.get("title", "")
    texts: dict[str, Callable[[], str]] = {
        "order.proposed": lambda: ngettext(
            "%(num)d proposal made for your order “%(title)s”.",
            "%(num)d proposals made for your order “%(title)s”.",
            int(p.get("proposals", 0)),
            title=title,
        ),
        "proposal.received": lambda: _(
            "New work proposed to you on “%(title)s”: please accept or decline.", title=title
        ),
        "proposal.accepted": lambda: _("A factory accepted its part of “%(title)s”.", title=title),
        "proposal.declined": lambda: (
            _(
                "A factory declined its part of “%(title)s”, saying: “%(note)s”. "
                "The work is being re-matched.",
                title=title,
                note=p["note"],
            )
            if p.get("note")
            else _(
                "A factory declined its part of “%(title)s”; the work is being re-matched.",
                title=title,
            )
        ),
        "proposal.expired": lambda: _(
            "A proposal on “%(title)s” expired unanswered; the work is being re-matched.",
            title=title,
        ),
        "proposal.superseded": lambda: _(
            "A proposal to you was withdrawn: re-matching moved the work elsewhere."
        ),
        "proposal.withdrawn_by_operator": lambda: _(
            "Your accepted work on “%(title)s” was withdrawn: the operator took your capacity "
            "offline from week %(from_week)s to %(to_week)s, and your booked hours on it are "
            "free again. This does not count against your credit.",
            title=title,
            from_week=p.get("from_week", "?"),
            to_week=p.get("to_week", "?"),
        ),
        "order.replanned": lambda: _(
            "A factory working on “%(title)s” went offline: its part is being placed with "
            "other factories. Your payment stays held; you will not pay more, and whatever "
            "the new factories charge less is refunded.",
            title=title,
        ),
        "order.replanned_refund": lambda: _(
            "“%(title)s” is placed and confirmed again: %(amount)s of your payment is being "
            "refunded.",
            title=title,
            amount=money(p.get("amount_minor"), p.get("currency", "EUR")),
        ),
        "order.unplaced": lambda: _(
            "%(hours)s hours of “%(title)s” could not be placed; start matching again or cancel.",
            hours=p.get("hours", "?"),
            title=title,
        ),
        "order.confirmed": lambda: _(
            "“%(title)s” is confirmed: all work is accepted and paid for.", title=title
        ),
        "order.awaiting_payment": lambda: _(
            "Every hour of “%(title)s” is accepted: please pay %(amount)s so that production "
            "can start.",
            title=title,
            amount=money(p.get("price_minor"), p.get("currency", "EUR")),
        ),
        "order.awaiting_payment_factory": lambda: _(
            "All of “%(title)s” is accepted; production starts once the buyer has paid.",
            title=title,
        ),
        "payment.failed": lambda: _(
            "Your payment for “%(title)s” did not go through; you may try again.", title=title
        ),
        "order.unpaid": lambda: _(
            "“%(title)s” was not paid in time: your hours are free again.", title=title
        ),
        "order.payment_expired": lambda: _(
            "“%(title)s” was not paid in time: the factories' hours went back and the order "
            "is open again.",
            title=title,
        ),
        "payout.sent": lambda: _(
            "%(amount)s for “%(title)s” is on its way to your account.",
            amount=money(p.get("amount_minor"), p.get("currency", "EUR")),
            title=title,
        ),
        "order.closed_by_window": lambda: _(
            "“%(title)s” closed by itself: the time to report a problem is over and the "
            "factories are paid.",
            title=title,
        ),
        "order.at_risk": lambda: _(
            "“%(title)s” is at risk: a machine of %(factory)s reported %(hours)s h less "
            "%(process)s in week %(week)s than is booked. The booked hours stay booked; "
            "the order can be matched again if the factory cannot make up for it.",
            title=title,
            factory=p.get("factory", ""),
            hours=p.get("short_hours", "?"),
            process=process_label(p.get("process", ""), current_locale()),
            week=p.get("week", ""),
        ),
        "order.cancelled": lambda: _("The buyer cancelled “%(title)s”.", title=title),
        "milestone.added": lambda: _(
            "Milestone on “%(title)s”: %(kind)s.",
            title=title,
            kind=state_label(p.get("milestone", "")),
        ),
        "order.delivered": lambda: _("The buyer confirmed delivery of “%(title)s”.", title=title),
        "order.closed": lambda: _("“%(title)s” is closed: you can rate the buyer.", title=title),
        "dispute.opened": lambda: _("A dispute was opened on “%(title)s”.", title=title),
        "dispute.resolved": lambda: _("The dispute on “%(title)s” was resolved.", title=title),
        "rating.received": lambda: _(
            "You were rated %(score)s/5 for “%(title)s”.", score=p.get("score", "?"), title=title
        ),
    }
    text = texts.get(n.kind)
    return text() if text else n.kind
