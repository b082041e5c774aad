"""The simulation's orders: lines that some simulated shop can make."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from factories.capacity.weeks import monday_of
from factories.models import Capability, CapabilityMaterial, Factory, FactoryStatus, id_of, utcnow
from factories.taxonomy import TOLERANCE_CLASSES, tolerance_rank
from marketplace.orders.posting.service import LineInput, OrderInput
from marketplace.tools.demo.data import REGIONS


def capabilities_of(session: Session, factory_ids: list[int]) -> list[dict[str, Any]]:
    """What the verified simulated shops can make, as models for order lines."""
    rows = session.exec(
        select(Capability, Factory.status)
        .join(Factory, col(Factory.id) == col(Capability.factory_id))
        .where(
            col(Factory.id).in_(factory_ids),
            Factory.status == FactoryStatus.VERIFIED,
        )
        .order_by(col(Capability.id))
    ).all()
    materials: dict[int, list[str]] = {}
    for capability_id, material in session.exec(
        select(CapabilityMaterial.capability_id, CapabilityMaterial.material).order_by(
            col(CapabilityMaterial.capability_id), col(CapabilityMaterial.material)
        )
    ):
        materials.setdefault(capability_id, []).append(material)
    return [
        {
            "process": c.process_code,
            "materials": materials.get(id_of(c), []),
            "envelope": (c.max_length_mm, c.max_width_mm, c.max_height_mm),
            "tolerance": c.tolerance_class,
            "batch": (c.batch_min, c.batch_max),
        }
        for c, _ in rows
        if materials.get(id_of(c))
    ]


def order_input(
    rng: random.Random, capabilities: list[dict[str, Any]], i: int, weeks: int
) -> OrderInput:
    """The i-th simulated order: lines some simulated shop can make, due in the weeks."""
    today = utcnow().date()
    region = rng.choice(REGIONS)
    city, lat, lon = rng.choice(region.cities)
    lines = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        model = rng.choice(capabilities)
        low, high = model["batch"]
        quantity = max(low, min(high, rng.choice((5, 10, 25, 50, 100, 250))))
        lines.append(
            LineInput(
                process_code=model["process"],
                material=rng.choice(model["materials"]),
                quantity=quantity,
                hours=Decimal(f"{max(2.0, min(120.0, rng.lognormvariate(2.8, 0.8))):.1f}"),
                length_mm=max(1, int(model["envelope"][0] * rng.uniform(0.1, 0.6))),
                width_mm=max(1, int(model["envelope"][1] * rng.uniform(0.1, 0.6))),
                height_mm=max(1, int(model["envelope"][2] * rng.uniform(0.1, 0.6))),
                tolerance_class=TOLERANCE_CLASSES[
                    min(3, tolerance_rank(model["tolerance"]) + rng.choice((0, 0, 1)))
                ],
                splittable=rng.random() < 0.4,
            )
        )
    return OrderInput(
        title=f"Simulated order {i + 1}",
        due_date=monday_of(today) + timedelta(weeks=rng.randint(2, max(2, weeks - 1)), days=4),
        delivery_country=region.country,
        delivery_city=city,
        delivery_latitude=lat,
        delivery_longitude=lon,
        min_credit=rng.choice((0.0, 0.0, 0.0, 0.5, 0.7)),
        lines=lines,
    )
