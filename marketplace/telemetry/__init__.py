"""Machine telemetry in the marketplace: a factory's machines (pages, API, command line),
the worker that takes their reports, and the work their reports put at risk.

The rules live in `factories.telemetry` (docs/telemetry.md); this area registers machines
for a factory's people and machine clients, and tells buyers and operators when a machine
takes a week below what is booked (`marketplace.orders.production.at_risk`).
"""
