"""A realistic demo cluster, deterministic for a seed.

Many small shops and a few big ones in several industrial regions, each an archetype
(machine shop, sheet metal, foundry, plastics, additive, finishing, electronics,
forge) so that every DIN 8580 group is on offer; capacity for the coming weeks with
some weeks sold out; buyers with orders in every state of their life. Rows go in with
bulk inserts so that ten thousand factories take seconds, not minutes.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from factories.capacity.weeks import monday_of, weeks_from
from factories.models import (
    Capability,
    CapabilityMaterial,
    CapacityBucket,
    Certification,
    Factory,
    FactoryStatus,
)
from factories.taxonomy import CERTIFICATIONS, TOLERANCE_CLASSES, materials_for
from marketplace.accounts.models import Membership, Organization, OrganizationKind, Role, User
from marketplace.accounts.passwords import hash_password
from marketplace.orders.models import (
    MatchRun,
    MatchRunState,
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)

BATCH = 5000


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
    (OrderState.OPEN, 0.22),
    (OrderState.PROPOSED, 0.12),
    (OrderState.CONFIRMED, 0.12),
    (OrderState.IN_PRODUCTION, 0.16),
    (OrderState.SHIPPED, 0.08),
    (OrderState.DELIVERED, 0.08),
    (OrderState.CLOSED, 0.09),
    (OrderState.CANCELLED, 0.04),
    (OrderState.DISPUTED, 0.01),
)
STATES_WITH_PROPOSALS = {
    OrderState.PROPOSED,
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


@dataclass
class DemoSummary:
    factories: int = 0
    regions: int = 0
    capabilities: int = 0
    capacity_buckets: int = 0
    orders: int = 0
    order_lines: int = 0
    proposals: int = 0
    orders_by_state: dict[str, int] = field(default_factory=dict)
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def has_factories(session: Session) -> bool:
    return session.exec(select(Factory.id).limit(1)).first() is not None


def seed_marketplace(session: Session, spec: DemoSpec) -> DemoSummary:
    started = time.perf_counter()
    rng = random.Random(spec.seed)
    now = datetime.now(UTC)
    weeks = weeks_from(spec.start or now.date(), spec.weeks)
    summary = DemoSummary()

    operator_org, buyer_orgs = _insert_operator_and_buyers(session, rng, spec.buyers)
    factories = _insert_factories(session, rng, spec.factories, now)
    summary.factories = len(factories)
    summary.regions = len({f["region"] for f in factories})
    capabilities = _insert_capabilities(session, rng, factories, now)
    summary.capabilities = len(capabilities)
    buckets = _plan_capacity(rng, capabilities, weeks, now)
    slots: list[dict[str, Any]] = []
    orders_by_state = _insert_orders(
        session, rng, spec.orders, buyer_orgs, capabilities, buckets, weeks, now, summary, slots
    )
    # Inserted last, so that the bookings of the demo orders go in with the rows.
    _insert_without_ids(session, CapacityBucket.__table__, list(buckets.values()))
    _insert_proposal_slots(session, slots)
    summary.capacity_buckets = len(buckets)
    summary.orders_by_state = {state.value: n for state, n in orders_by_state.items()}
    if spec.logins:
        summary.logins = _insert_demo_logins(
            session, operator_org, buyer_orgs[0], factories[0], now
        )
    session.flush()
    summary.seconds = time.perf_counter() - started
    return summary


def _insert_rows(session: Session, model: type, rows: list[dict[str, Any]]) -> list[int]:
    """Insert in batches and return the new primary keys in the order of `rows`."""
    table = model.__table__  # type: ignore[attr-defined]
    if "id" not in table.c:
        _insert_without_ids(session, table, rows)
        return []
    ids: list[int] = []
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    for start in range(0, len(rows), BATCH):
        ids.extend(session.execute(statement, rows[start : start + BATCH]).scalars())
    return ids


def _insert_without_ids(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Rows nobody needs the keys of; PostgreSQL's COPY takes them several times faster."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for start in range(0, len(rows), BATCH):
            session.execute(sa.insert(table), rows[start : start + BATCH])
        return
    columns = list(rows[0])
    copy_sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _insert_operator_and_buyers(
    session: Session, rng: random.Random, buyer_count: int
) -> tuple[int, list[int]]:
    now = datetime.now(UTC)
    rows = [
        {
            "kind": OrganizationKind.OPERATOR,
            "name": "Cluster Operations",
            "country": "DE",
            "created_at": now,
        }
    ]
    for i in range(buyer_count):
        name = BUYER_NAMES[i % len(BUYER_NAMES)] + (
            f" {i // len(BUYER_NAMES) + 1}" if i >= len(BUYER_NAMES) else ""
        )
        rows.append(
            {
                "kind": OrganizationKind.BUYER,
                "name": name,
                "country": rng.choice(REGIONS).country,
                "created_at": now,
            }
        )
    ids = _insert_rows(session, Organization, rows)
    return ids[0], ids[1:]


def _insert_factories(
    session: Session, rng: random.Random, count: int, now: datetime
) -> list[dict[str, Any]]:
    archetype_weights = [a.weight for a in ARCHETYPES]
    factories: list[dict[str, Any]] = []
    for i in range(count):
        # Cover every archetype (and so every DIN 8580 group) before drawing at random.
        archetype = (
            ARCHETYPES[i] if i < len(ARCHETYPES) else rng.choices(ARCHETYPES, archetype_weights)[0]
        )
        region = REGIONS[i % len(REGIONS)] if i < len(REGIONS) else rng.choice(REGIONS)
        city, lat, lon = rng.choice(region.cities)
        # Lognormal shop size: most have one or two machines per process, a few have many.
        machines = max(1, min(40, round(rng.lognormvariate(0.3, 0.8))))
        roll = rng.random()
        status = (
            FactoryStatus.VERIFIED
            if roll < 0.85 or i == 0
            else FactoryStatus.PENDING
            if roll < 0.95
            else FactoryStatus.SUSPENDED
        )
        factories.append(
            {
                "name": " ".join(
                    (rng.choice(FAMILY_NAMES), archetype.label, rng.choice(SHOP_WORDS), str(i + 1))
                ),
                "archetype": archetype,
                "region_obj": region,
                "machines": machines,
                "country": region.country,
                "region": region.name,
                "city": city,
                "latitude": round(lat + rng.uniform(-0.25, 0.25), 5),
                "longitude": round(lon + rng.uniform(-0.25, 0.25), 5),
                "status": status,
                "credit_score": round(min(1.0, max(0.2, rng.betavariate(8, 2))), 3),
            }
        )
    org_ids = _insert_rows(
        session,
        Organization,
        [
            {
                "kind": OrganizationKind.FACTORY,
                "name": f["name"],
                "country": f["country"],
                "created_at": now,
            }
            for f in factories
        ],
    )
    factory_rows = []
    for index, (f, org_id) in enumerate(zip(factories, org_ids, strict=True)):
        f["organization_id"] = org_id
        days_since_capacity_update = rng.choice((0, 1, 2, 3, 5, 8, 20))
        if index == 0:
            # The demo owner's factory: its calendar is kept up to date.
            days_since_capacity_update = 0
        factory_rows.append(
            {
                "global_id": _deterministic_global_id(rng),
                "organization_id": org_id,
                "name": f["name"],
                "country": f["country"],
                "region": f["region"],
                "city": f["city"],
                "latitude": f["latitude"],
                "longitude": f["longitude"],
                "status": f["status"],
                "credit_score": f["credit_score"],
                "capacity_updated_at": now - timedelta(days=days_since_capacity_update),
                "verified_at": now if f["status"] == FactoryStatus.VERIFIED else None,
                "created_at": now,
            }
        )
    for f, factory_id in zip(factories, _insert_rows(session, Factory, factory_rows), strict=True):
        f["id"] = factory_id
    _insert_certifications(session, rng, factories, now.date())
    return factories


def _deterministic_global_id(rng: random.Random) -> str:
    return f"urn:factoryweb:factory:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def _insert_certifications(
    session: Session, rng: random.Random, factories: list[dict[str, Any]], today: date
) -> None:
    issuers = (
        "TÜV SÜD",
        "DEKRA",
        "Bureau Veritas",
        "SGS",
        "DNV",
        "China Quality Certification Centre",
    )
    rows = []
    for f in factories:
        held = ["ISO9001"] if rng.random() < 0.75 else []
        held += [c for c in f["archetype"].certifications if rng.random() < 0.35]
        f["certifications"] = set()
        for code in held:
            # About one in twelve certificates has lapsed, as in any real register.
            expired = rng.random() < 0.08
            valid_until = (
                today - timedelta(days=rng.randint(1, 120))
                if expired
                else today + timedelta(days=rng.randint(60, 1000))
            )
            # Certificates run for three years.
            valid_from = valid_until - timedelta(days=3 * 365)
            if not expired:
                f["certifications"].add(code)
            rows.append(
                {
                    "factory_id": f["id"],
                    "certificate_type": code,
                    "certificate_version": {
                        "ISO9001": "2015",
                        "ISO14001": "2015",
                        "IATF16949": "2016",
                        "AS9100": "D",
                        "ISO13485": "2016",
                    }[code],
                    "registration_number": f"{code[:3]}-{rng.randint(100000, 999999)}",
                    "issuer": rng.choice(issuers),
                    "valid_from": valid_from,
                    "valid_until": valid_until,
                }
            )
    assert all(r["certificate_type"] in CERTIFICATIONS for r in rows)
    _insert_rows(session, Certification, rows)


def _insert_capabilities(
    session: Session, rng: random.Random, factories: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    capabilities: list[dict[str, Any]] = []
    for f in factories:
        offered = [p for p in f["archetype"].processes if rng.random() < 0.7] or [
            f["archetype"].processes[0]
        ]
        for code in offered:
            size = rng.choice((200, 400, 600, 800, 1200, 2000, 3000))
            rate = (
                f["archetype"].base_rate_eur * f["region_obj"].rate_factor * rng.uniform(0.8, 1.3)
            )
            if code == "milling_5axis":
                rate *= 1.4
            capabilities.append(
                {
                    "factory": f,
                    "process_code": code,
                    "tolerance_class": rng.choices(TOLERANCE_CLASSES, (0.25, 0.55, 0.15, 0.05))[0],
                    "max_length_mm": size,
                    "max_width_mm": int(size * rng.uniform(0.4, 1.0)),
                    "max_height_mm": int(size * rng.uniform(0.2, 0.8)),
                    "batch_min": rng.choice((1, 1, 1, 10, 50)),
                    "batch_max": rng.choice((500, 5000, 100000)),
                    "hourly_rate_minor": round(rate) * 100,
                    "currency": "EUR",
                    "materials": [m.code for m in materials_for(code) if rng.random() < 0.6]
                    or [materials_for(code)[0].code],
                }
            )
    ids = _insert_rows(
        session,
        Capability,
        [
            {
                "factory_id": c["factory"]["id"],
                "updated_at": now,
                **{k: v for k, v in c.items() if k not in ("factory", "materials")},
            }
            for c in capabilities
        ],
    )
    material_rows = []
    for c, capability_id in zip(capabilities, ids, strict=True):
        c["id"] = capability_id
        material_rows += [{"capability_id": capability_id, "material": m} for m in c["materials"]]
    _insert_rows(session, CapabilityMaterial, material_rows)
    return capabilities


def _plan_capacity(
    rng: random.Random, capabilities: list[dict[str, Any]], weeks: list[date], now: datetime
) -> dict[tuple[int, str, date], dict[str, Any]]:
    """Capacity rows per (factory, resource, week), not yet inserted."""
    buckets: dict[tuple[int, str, date], dict[str, Any]] = {}
    for c in capabilities:
        f = c["factory"]
        shifts = rng.choice((1, 1, 2, 2, 3))
        machines = max(1, round(f["machines"] * rng.uniform(0.5, 1.2)))
        for week in weeks:
            maximum = machines * shifts * 40 * rng.uniform(0.85, 1.0)
            # Some weeks are sold out (a big contract, a holiday); most are partly booked.
            load = 1.0 if rng.random() < 0.06 else rng.uniform(0.0, 0.7)
            maximum_hours = Decimal(f"{maximum:.1f}")
            row = {
                "factory_id": f["id"],
                "resource": c["process_code"],
                "point_in_time": week,
                "actual_hours": (maximum_hours * Decimal("0.85")).quantize(Decimal("0.1")),
                "maximum_hours": maximum_hours,
                "booked_hours": (maximum_hours * Decimal(f"{load:.2f}")).quantize(Decimal("0.1")),
                "held_hours": Decimal(0),
                "updated_at": now,
            }
            buckets[(f["id"], c["process_code"], week)] = row
    return buckets


def _insert_orders(
    session: Session,
    rng: random.Random,
    count: int,
    buyer_orgs: list[int],
    capabilities: list[dict[str, Any]],
    buckets: dict[tuple[int, str, date], dict[str, Any]],
    weeks: list[date],
    now: datetime,
    summary: DemoSummary,
    slots: list[dict[str, Any]],
) -> dict[OrderState, int]:
    by_process: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in capabilities:
        if c["factory"]["status"] == FactoryStatus.VERIFIED:
            by_process[c["process_code"]].append(c)
    offered = sorted(by_process)
    states, shares = zip(*ORDER_STATE_MIX, strict=True)
    orders, lines, planned = [], [], []
    for i in range(count):
        state = states[i] if i < len(states) else rng.choices(states, shares)[0]
        due = weeks[min(len(weeks) - 1, rng.randint(1, len(weeks) - 1))] + timedelta(days=4)
        if state in (OrderState.DELIVERED, OrderState.CLOSED):
            due = monday_of(now.date()) - timedelta(days=rng.randint(3, 40))
        region = rng.choice(REGIONS)
        city, lat, lon = rng.choice(region.cities)
        order = {
            "buyer_organization_id": buyer_orgs[i % len(buyer_orgs)],
            "title": f"{rng.choice(PART_NAMES)} batch {1000 + i}",
            "state": state,
            "due_date": due,
            "delivery_country": region.country,
            "delivery_city": city,
            "delivery_latitude": lat,
            "delivery_longitude": lon,
            "budget_minor": rng.choice((None, 500_000, 1_500_000, 4_000_000)),
            "currency": "EUR",
            "min_credit": rng.choice((0.0, 0.0, 0.0, 0.5, 0.7)),
            "created_at": now - timedelta(days=rng.randint(0, 60)),
            "updated_at": now,
        }
        orders.append(order)
        for line_no in range(1, rng.choice((1, 1, 2, 2, 3)) + 1):
            process = rng.choice(offered)
            capable = by_process[process]
            model = rng.choice(capable)
            quantity = rng.choice((1, 5, 10, 25, 50, 100, 250, 1000))
            hours = Decimal(f"{max(2.0, min(400.0, rng.lognormvariate(3.0, 0.9))):.1f}")
            lines.append(
                {
                    "order_index": i,
                    "line_no": line_no,
                    "process_code": process,
                    "material": rng.choice(model["materials"]),
                    "quantity": quantity,
                    "hours": hours,
                    "length_mm": int(model["max_length_mm"] * rng.uniform(0.1, 0.6)),
                    "width_mm": int(model["max_width_mm"] * rng.uniform(0.1, 0.6)),
                    "height_mm": max(1, int(model["max_height_mm"] * rng.uniform(0.1, 0.6))),
                    "tolerance_class": rng.choice(TOLERANCE_CLASSES[:3]),
                    "certifications_required": ["ISO9001"] if rng.random() < 0.2 else [],
                    "splittable": rng.random() < 0.4,
                }
            )
            if state in STATES_WITH_PROPOSALS:
                planned.append((len(lines) - 1, state, capable))

    order_ids = _insert_rows(session, Order, orders)
    for line in lines:
        line["order_id"] = order_ids[line.pop("order_index")]
    line_ids = _insert_rows(session, OrderLine, lines)
    summary.orders, summary.order_lines = len(orders), len(lines)

    proposals = _book_demo_proposals(rng, planned, lines, line_ids, buckets, weeks, now)
    if proposals:
        run_id = _insert_rows(
            session,
            MatchRun,
            [
                {
                    "state": MatchRunState.SUCCEEDED,
                    "time_limit_s": 10.0,
                    "problem": {
                        "version": 1,
                        "note": "demo data: proposals were seeded, not solved",
                    },
                    "plan": None,
                    "progress": {},
                    "solver_status": None,
                    "created_at": now,
                    "started_at": now,
                    "finished_at": now,
                }
            ],
        )[0]
        for p in proposals:
            p["match_run_id"] = run_id
        held = [p.pop("slot") for p in proposals]
        for proposal_id, slot in zip(_insert_rows(session, Proposal, proposals), held, strict=True):
            slots.append({**slot, "proposal_id": proposal_id})
    summary.proposals = len(proposals)
    counts: dict[OrderState, int] = defaultdict(int)
    for order in orders:
        counts[order["state"]] += 1
    return dict(counts)


def _book_demo_proposals(
    rng: random.Random,
    planned: list[tuple[int, OrderState, list[dict[str, Any]]]],
    lines: list[dict[str, Any]],
    line_ids: list[int],
    buckets: dict[tuple[int, str, date], dict[str, Any]],
    weeks: list[date],
    now: datetime,
) -> list[dict[str, Any]]:
    """Give each planned line to a capable factory with room, booking the hours it takes."""
    proposals = []
    for line_index, state, capable in planned:
        line = lines[line_index]
        for capability in rng.sample(capable, min(len(capable), 8)):
            factory_id = capability["factory"]["id"]
            week = rng.choice(weeks)
            bucket = buckets.get((factory_id, line["process_code"], week))
            if bucket is None or bucket["maximum_hours"] - bucket["booked_hours"] < line["hours"]:
                continue
            bucket["booked_hours"] += line["hours"]
            pending = state == OrderState.PROPOSED
            if pending:
                bucket["held_hours"] += line["hours"]
            proposals.append(
                {
                    "order_id": line["order_id"],
                    "order_line_id": line_ids[line_index],
                    "factory_id": factory_id,
                    "state": ProposalState.PENDING
                    if state == OrderState.PROPOSED
                    else ProposalState.ACCEPTED,
                    "hours": line["hours"],
                    "price_minor": int(line["hours"] * capability["hourly_rate_minor"]),
                    "currency": capability["currency"],
                    "explanation": {"reason": "demo data"},
                    "expires_at": now + timedelta(hours=48),
                    "created_at": now,
                    "decided_at": None if state == OrderState.PROPOSED else now,
                    # The capacity the proposal holds (pending) or booked (accepted).
                    "slot": {
                        "bucket": (factory_id, line["process_code"], week),
                        "hours": line["hours"],
                        "state": SlotState.HELD if pending else SlotState.CONFIRMED,
                    },
                }
            )
            break
    return proposals


def _insert_proposal_slots(session: Session, slots: list[dict[str, Any]]) -> None:
    """Link each demo proposal to the bucket it books, once the buckets have ids."""
    if not slots:
        return
    factory_ids = sorted({s["bucket"][0] for s in slots})
    bucket_ids = {
        (factory_id, resource, week): bucket_id
        for bucket_id, factory_id, resource, week in session.execute(
            select(
                CapacityBucket.id,
                CapacityBucket.factory_id,
                CapacityBucket.resource,
                CapacityBucket.point_in_time,
            ).where(CapacityBucket.factory_id.in_(factory_ids))
        )
    }
    _insert_rows(
        session,
        ProposalSlot,
        [
            {
                "proposal_id": s["proposal_id"],
                "bucket_id": bucket_ids[s["bucket"]],
                "hours": s["hours"],
                "state": s["state"],
            }
            for s in slots
        ],
    )


def demo_logins() -> dict[str, tuple[str, str]]:
    """Role -> (email, password) of the demo accounts."""
    return {
        role.value: (f"{local}@{DEMO_EMAIL_DOMAIN}", DEMO_PASSWORD)
        for role, local, _ in DEMO_ACCOUNTS
    }


def _insert_demo_logins(
    session: Session, operator_org: int, buyer_org: int, factory: dict[str, Any], now: datetime
) -> dict[str, tuple[str, str]]:
    organization_of_role = {
        Role.OPERATOR: operator_org,
        Role.BUYER_MEMBER: buyer_org,
        Role.FACTORY_OWNER: factory["organization_id"],
        Role.FACTORY_MEMBER: factory["organization_id"],
    }
    # One argon2 hash serves every demo account; hashing is deliberately slow.
    password_hash = hash_password(DEMO_PASSWORD)
    user_ids = _insert_rows(
        session,
        User,
        [
            {
                "email": f"{local}@{DEMO_EMAIL_DOMAIN}",
                "password_hash": password_hash,
                "display_name": name,
                "locale": "en",
                "is_active": True,
                "created_at": now,
            }
            for _, local, name in DEMO_ACCOUNTS
        ],
    )
    _insert_rows(
        session,
        Membership,
        [
            {
                "user_id": user_id,
                "organization_id": organization_of_role[role],
                "role": role,
                "created_at": now,
            }
            for (role, _, _), user_id in zip(DEMO_ACCOUNTS, user_ids, strict=True)
        ],
    )
    return demo_logins()
