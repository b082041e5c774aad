"""Settings of the payments area, and the gateway they choose: Stripe when
`STRIPE_API_KEY` is set, the simulated gateway otherwise (labelled on every page)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app

from marketplace.config import ConfigurationError, Settings
from marketplace.db import Database
from marketplace.payments.gateways.base import Gateway
from marketplace.payments.gateways.simulated import SimulatedGateway
from marketplace.payments.gateways.stripe import StripeGateway

EXTENSION_KEY = "factoryweb.payments"
DEFAULTS: dict[str, Any] = {
    # Once every hour is accepted, the buyer has this long to pay; then the hours go back.
    "PAYMENT_DEADLINE_HOURS": 72.0,
    # Shipped and neither confirmed nor disputed this long: delivered, paid out, closed.
    "DISPUTE_WINDOW_DAYS": 7.0,
    # The platform's fee on what a factory is paid, in hundredths of a percent.
    "PLATFORM_FEE_BPS": 500,
    # A gateway call that failed is made again after base x 2^(attempt-1) seconds.
    "PAYMENT_RETRY_BASE_S": 10.0,
    "PAYMENT_MAX_ATTEMPTS": 8,
}


@dataclass(frozen=True)
class PaymentSettings:
    deadline: timedelta
    dispute_window: timedelta
    fee_bps: int
    retry_base_s: float
    max_attempts: int

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> PaymentSettings:
        values = {}
        for key, default in DEFAULTS.items():
            raw = config.get(key, default)
            try:
                values[key] = type(default)(raw)
            except (TypeError, ValueError) as error:
                raise ConfigurationError(f"{key}: not a number: {raw!r}") from error
        if not 0 <= values["PLATFORM_FEE_BPS"] <= 10_000:
            raise ConfigurationError("PLATFORM_FEE_BPS must be from 0 to 10000")
        return cls(
            deadline=timedelta(hours=values["PAYMENT_DEADLINE_HOURS"]),
            dispute_window=timedelta(days=values["DISPUTE_WINDOW_DAYS"]),
            fee_bps=values["PLATFORM_FEE_BPS"],
            retry_base_s=values["PAYMENT_RETRY_BASE_S"],
            max_attempts=values["PAYMENT_MAX_ATTEMPTS"],
        )


def gateway_for(settings: Settings, database: Database, onboarding_url: str = "") -> Gateway:
    if settings.stripe_api_key:
        return StripeGateway(
            settings.stripe_api_key, settings.stripe_api_base, settings.stripe_webhook_secret
        )
    return SimulatedGateway(database, onboarding_url)


@dataclass(frozen=True)
class Payments:
    """What the application holds for the area."""

    settings: PaymentSettings
    gateway: Gateway


def current() -> Payments:
    payments: Payments = current_app.extensions[EXTENSION_KEY]
    return payments
