"""The network laid out by coordinates: an equirectangular projection of buyers, orders
and factories into a box, drawn as an SVG of our own (no map tiles)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from marketplace.operator.network.service import Network

WIDTH, HEIGHT, PAD = 900, 520, 30
MAX_EDGE_PX = 8.0


@dataclass(frozen=True)
class Point:
    id: str
    kind: str
    label: str
    x: float
    y: float
    critical: bool


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    kind: str
    title: str


@dataclass(frozen=True)
class Drawing:
    width: int
    height: int
    points: list[Point]
    lines: list[Line]


def drawing(net: Network) -> Drawing:
    """Equirectangular projection of the nodes' coordinates fitted to the box
    (longitude scaled by the cosine of the mean latitude)."""
    if not net.nodes:
        return Drawing(WIDTH, HEIGHT, [], [])
    lats = [n.latitude for n in net.nodes]
    lons = [n.longitude for n in net.nodes]
    scale_lon = math.cos(math.radians(sum(lats) / len(lats)))
    xs = [lon * scale_lon for lon in lons]
    span_x = max(max(xs) - min(xs), 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)
    left, top = min(xs), max(lats)

    def place(lat: float, lon: float) -> tuple[float, float]:
        return (
            round(PAD + (lon * scale_lon - left) * scale, 1),
            round(PAD + (top - lat) * scale, 1),
        )

    points = []
    where: dict[str, tuple[float, float]] = {}
    for n in net.nodes:
        x, y = place(n.latitude, n.longitude)
        where[n.id] = (x, y)
        points.append(Point(n.id, n.kind, n.label, x, y, n.critical))
    heaviest = max((float(e.hours) for e in net.edges), default=1.0) or 1.0
    lines = []
    for e in net.edges:
        (x1, y1), (x2, y2) = where[e.source], where[e.target]
        lines.append(
            Line(
                x1, y1, x2, y2,
                round(0.5 + MAX_EDGE_PX * float(e.hours) / heaviest, 2),
                "demand" if e.source.startswith("buyer-") else "supply",
                f"{float(e.hours):g} h",
            )
        )  # fmt: skip
    return Drawing(WIDTH, HEIGHT, points, lines)
