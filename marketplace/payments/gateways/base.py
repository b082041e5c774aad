"""What the marketplace asks of a payment gateway, whichever it is: Stripe (`stripe`), or
the simulated one that `make demo` and tests without Stripe use (`simulated`).

Every call that moves money or creates something carries an idempotency key, so that a
call repeated after a crash or a timeout does it once. Calls are made by the payments
area's worker after the commit of the change that needs them, never inside a request's
transaction or an order's lock (`marketplace.payments.operations`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# Payment method ids a test or a demo may use on either gateway (Stripe's test ids): a
# card that pays, and one Stripe (and localstripe) accepts but whose charge is declined.
CARD_SUCCEEDS = "pm_card_visa"
CARD_DECLINED = "pm_card_chargeCustomerFail"
# Stripe's other test cards whose charge is declined; the simulated gateway declines them too.
DECLINING_CARDS = frozenset(
    {CARD_DECLINED, "pm_card_chargeDeclined", "pm_card_visa_chargeDeclined"}
)


class GatewayError(RuntimeError):
    """The gateway could not do it now (unreachable, rate limited, a server error): the
    call is made again later."""


class GatewayRefusal(RuntimeError):
    """The gateway refused the call for good (bad request, unknown object): made again it
    would be refused again; an operator looks at it."""


class BadEvent(ValueError):
    """An event that is not the gateway's (bad signature) or cannot be read."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PaymentResult:
    """Where a payment stands at the gateway."""

    intent_id: str
    # succeeded, processing, failed (declined: the buyer may try again), canceled
    status: str
    amount_minor: int = 0
    charge_id: str = ""
    failure: str = ""


@dataclass(frozen=True)
class AccountResult:
    account_id: str
    payouts_enabled: bool
    details_submitted: bool


@dataclass(frozen=True)
class Event:
    """A gateway event as the marketplace reads it."""

    event_id: str
    type: str
    data: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict)


class Gateway(Protocol):
    name: str  # "stripe" or "simulated": shown on every page that shows a payment

    def pay(
        self,
        *,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> PaymentResult:
        """Take the amount now (authorized and captured at once)."""
        ...

    def retrieve_payment(self, intent_id: str) -> PaymentResult: ...

    def cancel_payment(self, intent_id: str, idempotency_key: str) -> None: ...

    def refund(
        self, *, intent_id: str, amount_minor: int, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        """Give `amount_minor` of the payment back; the refund's id."""
        ...

    def refunded_minor(self, refund_id: str) -> int:
        """The amount of a refund, as the gateway has it (reconciliation)."""
        ...

    def create_account(
        self, *, country: str, email: str, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        """A connected account for a factory's payouts; its id."""
        ...

    def onboarding_link(
        self, *, account_id: str, refresh_url: str, return_url: str, idempotency_key: str
    ) -> str:
        """Where the factory goes to give the gateway what payouts need."""
        ...

    def retrieve_account(self, account_id: str) -> AccountResult: ...

    def transfer(
        self,
        *,
        amount_minor: int,
        currency: str,
        account_id: str,
        source_charge: str,
        transfer_group: str,
        idempotency_key: str,
    ) -> str:
        """Pay a connected account out of a charge; the transfer's id."""
        ...

    def transferred_minor(self, transfer_id: str) -> int:
        """The amount of a transfer, as the gateway has it (reconciliation)."""
        ...

    def read_event(self, payload: bytes, signature: str) -> Event:
        """A webhook's event, its signature checked on the raw body; BadEvent if not."""
        ...
