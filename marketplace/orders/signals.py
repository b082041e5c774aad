"""What the orders area tells the areas above it, in the transaction of the change: an
order cancelled, delivered, or with every hour accepted. The payments area listens (a refund
to make, factories to pay); the orders area knows nothing of who listens.

Receivers are called as `receiver(order, session=..., now=...)`; what they write commits,
or rolls back, with the change itself."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# The buyer cancelled the order (before production).
order_cancelled = _signals.signal("order-cancelled")
# The buyer confirmed delivery, or the dispute window closed without a dispute.
order_delivered = _signals.signal("order-delivered")
# Every hour of the order is accepted and it waits for its payment: the payments area
# confirms at once an order whose payment it still holds (paid work an operator's outage
# moved, accepted again elsewhere), settling the difference.
order_fully_accepted = _signals.signal("order-fully-accepted")
