"""Words of credit: the components of a score, what counts for and against each."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

COMPONENT_LABELS = {
    "on_time": _l("On-time delivery"),
    "quality": _l("Quality"),
    "commitment": _l("Commitment"),
    "cancellations": _l("Cancellations"),
    "volume": _l("Volume"),
}
GOOD = {
    "on_time": _l("shipped by the due date"),
    "quality": _l("work accepted, disputes won"),
    "commitment": _l("proposals accepted"),
    "cancellations": _l("orders confirmed"),
    "volume": _l("orders delivered"),
}
BAD = {
    "on_time": _l("shipped after the due date"),
    "quality": _l("disputes lost (half for a partial refund)"),
    "commitment": _l("proposals declined or left to expire"),
    "cancellations": _l("accepted work the factory cancelled"),
    "volume": _l("nothing: volume only adds confidence"),
}
