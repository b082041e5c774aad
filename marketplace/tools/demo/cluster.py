"""The demo cluster's organizations, factories, certifications, capabilities, capacity
and demo logins."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from factories.credit.score import PRIOR_MEAN
from factories.models import (
    Capability,
    CapabilityMaterial,
    Certification,
    Factory,
    FactoryStatus,
)
from factories.taxonomy import CERTIFICATIONS, TOLERANCE_CLASSES, materials_for
from marketplace.accounts.models import Membership, Organization, OrganizationKind, Role, User
from marketplace.accounts.passwords import hash_password
from marketplace.bulk import insert_rows
from marketplace.tools.demo.data import (
    ARCHETYPES,
    BUYER_NAMES,
    DEMO_ACCOUNTS,
    DEMO_EMAIL_DOMAIN,
    DEMO_PASSWORD,
    FAMILY_NAMES,
    REGIONS,
    SHOP_WORDS,
)


def insert_operator_and_buyers(
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
    ids = insert_rows(session, Organization, rows)
    return ids[0], ids[1:]


def insert_factories(
    session: Session, rng: random.Random, count: int, now: datetime, namespace: str = ""
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
                # Earned from the seeded history (demo/credit.py): every shop starts at
                # the prior.
                "credit_score": PRIOR_MEAN,
            }
        )
        # Once a made-up credit score; still drawn, so that a seed's cluster stays the same.
        rng.betavariate(8, 2)
    org_ids = insert_rows(
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
                "global_id": _deterministic_global_id(rng, namespace),
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
    for f, factory_id in zip(factories, insert_rows(session, Factory, factory_rows), strict=True):
        f["id"] = factory_id
    insert_certifications(session, rng, factories, now.date())
    return factories


def _deterministic_global_id(rng: random.Random, namespace: str = "") -> str:
    """The same id for the same seed; another namespace (the simulation's) gives other
    ids, so that its cluster can sit beside the demo's of the same seed."""
    bits = rng.getrandbits(128)
    if namespace:
        bits ^= int.from_bytes(uuid.uuid5(uuid.NAMESPACE_URL, namespace).bytes, "big")
    return f"urn:factoryweb:factory:{uuid.UUID(int=bits, version=4)}"


def insert_certifications(
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
    insert_rows(session, Certification, rows)


def insert_capabilities(
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
    ids = insert_rows(
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
    insert_rows(session, CapabilityMaterial, material_rows)
    return capabilities


def plan_capacity(
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


def demo_logins() -> dict[str, tuple[str, str]]:
    """Role -> (email, password) of the demo accounts."""
    return {
        role.value: (f"{local}@{DEMO_EMAIL_DOMAIN}", DEMO_PASSWORD)
        for role, local, _ in DEMO_ACCOUNTS
    }


def insert_demo_logins(
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
    user_ids = insert_rows(
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
    insert_rows(
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
