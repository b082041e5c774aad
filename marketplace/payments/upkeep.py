"""The area's work outside requests, for whichever dispatcher runs it: the executor of
gateway calls (`job`) and the periodic sweep (`sweep`): unpaid orders past their
deadline, shipped orders past their dispute window, gateway calls that are due."""

from __future__ import annotations

from functools import partial
from typing import Any

from factories.models import utcnow
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.payments import charges, operations, settlement
from marketplace.payments.gateways.base import Gateway
from marketplace.payments.settings import PaymentSettings

# Units of work outside a request say which settings apply (a worker's sweep).
SESSION_SETTINGS = "factoryweb.payments.settings"


def job(gateway: Gateway, settings: PaymentSettings) -> Any:
    """The dispatcher's executor of gateway calls."""
    return partial(operations.perform, gateway=gateway, settings=settings)


def sweep(
    database: Database, dispatcher: outbox.Dispatcher, *, settings: PaymentSettings
) -> dict[str, int]:
    """Upkeep: unpaid orders past their deadline, shipped orders past their dispute
    window, and gateway calls whose first hand-off was lost or whose retry is due."""
    now = utcnow()
    with database.session() as session:
        outbox.use_dispatcher(session, dispatcher)
        session.info[SESSION_SETTINGS] = settings
        unpaid = charges.expire_unpaid(session, now, settings)
        closed = settlement.deliver_after_window(session, now, settings)
        due = operations.due(session, now)
        if due:
            outbox.later(session, jobs=[(operations.JOB, op) for op in due])
    return {"unpaid_orders": unpaid, "closed_by_window": closed, "gateway_calls": len(due)}
