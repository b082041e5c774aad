"""The demo cluster's world: industrial regions, shop archetypes, names, and the mix of
order states the demo shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from marketplace.accounts.models import Role
from marketplace.orders.models import OrderState


@dataclass(frozen=True)
class Region:
    name: str
    country: str
    cities: tuple[tuple[str, float, float], ...]
    rate_factor: float  # labour cost level relative to the cluster


REGIONS: tuple[Region, ...] = (
    Region(
        "Baden-Württemberg",
        "DE",
        (("Stuttgart", 48.78, 9.18), ("Karlsruhe", 49.01, 8.40), ("Ulm", 48.40, 9.99)),
        1.0,
    ),
    Region(
        "Lombardy",
        "IT",
        (("Milan", 45.46, 9.19), ("Brescia", 45.54, 10.22), ("Bergamo", 45.70, 9.67)),
        0.85,
    ),
    Region(
        "Silesia",
        "PL",
        (("Katowice", 50.26, 19.02), ("Gliwice", 50.29, 18.67), ("Bielsko-Biała", 49.82, 19.04)),
        0.55,
    ),
    Region("Upper Austria", "AT", (("Linz", 48.31, 14.29), ("Steyr", 48.04, 14.42)), 0.95),
    Region(
        "Pearl River Delta",
        "CN",
        (("Shenzhen", 22.54, 114.06), ("Dongguan", 23.02, 113.75), ("Foshan", 23.02, 113.12)),
        0.4,
    ),
    Region(
        "Yangtze River Delta",
        "CN",
        (("Suzhou", 31.30, 120.58), ("Ningbo", 29.87, 121.54), ("Wuxi", 31.49, 120.31)),
        0.45,
    ),
)


@dataclass(frozen=True)
class Archetype:
    label: str
    processes: tuple[str, ...]
    weight: float
    base_rate_eur: int
    certifications: tuple[str, ...]


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "Precision Machining",
        ("milling_3axis", "milling_5axis", "turning", "grinding", "edm"),
        0.28,
        75,
        ("AS9100", "ISO13485", "IATF16949"),
    ),
    Archetype(
        "Sheet Metal",
        ("laser_cutting", "bending", "stamping", "welding_mig", "welding_tig", "powder_coating"),
        0.18,
        65,
        ("IATF16949", "ISO14001"),
    ),
    Archetype(
        "Foundry",
        ("sand_casting", "die_casting", "heat_treatment", "milling_3axis"),
        0.08,
        70,
        ("IATF16949", "ISO14001"),
    ),
    Archetype(
        "Plastics",
        ("injection_molding", "extrusion", "assembly"),
        0.12,
        60,
        ("ISO13485", "IATF16949"),
    ),
    Archetype("Additive", ("fdm", "sla", "sls", "mjf", "dmls"), 0.12, 55, ("ISO13485", "AS9100")),
    Archetype(
        "Surface Finishing",
        ("anodizing", "plating", "powder_coating", "heat_treatment"),
        0.08,
        50,
        ("ISO14001",),
    ),
    Archetype("Electronics", ("pcb_assembly", "assembly"), 0.08, 58, ("ISO13485", "IATF16949")),
    Archetype(
        "Forge & Cutting",
        (
            "forging",
            "extrusion",
            "plasma_cutting",
            "waterjet_cutting",
            "deep_drawing",
            "heat_treatment",
        ),
        0.06,
        68,
        ("IATF16949",),
    ),
)

SHOP_WORDS = (
    "Precision",
    "Werk",
    "Industrie",
    "Tech",
    "Manufacturing",
    "Fabrik",
    "Works",
    "Metall",
    "Components",
    "Engineering",
)
FAMILY_NAMES = (
    "Keller",
    "Rossi",
    "Nowak",
    "Huber",
    "Chen",
    "Wang",
    "Schmid",
    "Bianchi",
    "Kowalski",
    "Gruber",
    "Li",
    "Zhang",
    "Weber",
    "Ferrari",
    "Wiśniewski",
    "Bauer",
    "Liu",
    "Fischer",
    "Colombo",
    "Lewandowski",
    "Wagner",
    "Zhou",
    "Moser",
    "Ricci",
    "Wójcik",
    "Huang",
)
BUYER_NAMES = (
    "Alpine Robotics",
    "Nordwind Drives",
    "Medica Devices",
    "Aerotec Structures",
    "Voltara Mobility",
    "Helix Pumps",
    "Orbis Instruments",
    "Kestrel Drones",
    "Lumen Optics",
    "Terra Agritech",
    "Cobalt Energy",
    "Vireo Medical",
    "Stratos Avionics",
    "Brightline Rail",
    "Quanta Automation",
    "Ferro Tools",
    "Sinotech Appliances",
    "Delta Marine",
    "Polaris Sensors",
    "Ironbridge Machinery",
)

# Order states with their share of the demo's orders.
ORDER_STATE_MIX: tuple[tuple[OrderState, float], ...] = (
    (OrderState.DRAFT, 0.08),
    (OrderState.OPEN, 0.17),
    (OrderState.PROPOSED, 0.12),
    (OrderState.CONFIRMED, 0.12),
    (OrderState.IN_PRODUCTION, 0.16),
    (OrderState.SHIPPED, 0.08),
    (OrderState.DELIVERED, 0.08),
    (OrderState.CLOSED, 0.09),
    (OrderState.CANCELLED, 0.04),
    (OrderState.DISPUTED, 0.01),
)
# Besides those, one order in twenty (at least one) waits for its buyer's payment; drawn
# from a generator of its own, so that the mix above stays what a seed always gave.
AWAITING_PAYMENT_SHARE = 0.05
STATES_WITH_PROPOSALS = {
    OrderState.PROPOSED,
    OrderState.AWAITING_PAYMENT,
    OrderState.CONFIRMED,
    OrderState.IN_PRODUCTION,
    OrderState.SHIPPED,
    OrderState.DELIVERED,
    OrderState.CLOSED,
    OrderState.DISPUTED,
}

PART_NAMES = (
    "Housing",
    "Bracket",
    "Manifold",
    "Enclosure",
    "Shaft",
    "Gear",
    "Frame",
    "Panel",
    "Fixture",
    "Sensor board",
)
DEMO_PASSWORD = "factoryweb-demo"
DEMO_EMAIL_DOMAIN = "demo.factoryweb.example"
DEMO_ACCOUNTS: tuple[tuple[Role, str, str], ...] = (
    (Role.OPERATOR, "operator", "Olga Operator"),
    (Role.BUYER_MEMBER, "buyer", "Bruno Buyer"),
    (Role.FACTORY_OWNER, "owner", "Fiona Factory-Owner"),
    (Role.FACTORY_MEMBER, "member", "Felix Factory-Member"),
)


@dataclass(frozen=True)
class DemoSpec:
    factories: int = 60
    orders: int = 150
    weeks: int = 8
    seed: int = 7
    buyers: int = 12
    start: date | None = None  # Monday of the first week; default: this week
    logins: bool = True  # the demo accounts (one per database: their emails are unique)
    namespace: str = ""  # of the factories' global ids: "" is the demo's own
    # Most factories with a payout account already (the simulation sets theirs up itself).
    payout_accounts: bool = True


@dataclass
class DemoSummary:
    factories: int = 0
    regions: int = 0
    capabilities: int = 0
    capacity_buckets: int = 0
    orders: int = 0
    order_lines: int = 0
    proposals: int = 0
    payout_accounts: int = 0
    payments: int = 0
    payouts: int = 0
    ledger_events: int = 0
    orders_by_state: dict[str, int] = field(default_factory=dict)
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
