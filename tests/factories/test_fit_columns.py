"""The fit rule over columns (`FitTable`, `distances_km`, `lead_weeks_of`,
`prices_minor`) gives what the one-capability rule gives, for any shop and any need:
a national run's eligibility must never differ from a search's."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from factories.fit import (
    FitTable,
    Need,
    distance_km,
    distances_km,
    fits,
    lead_weeks,
    lead_weeks_of,
    price_minor,
    prices_minor,
)
from factories.taxonomy import TOLERANCE_CLASSES


@dataclass
class Shape:
    max_length_mm: int
    max_width_mm: int
    max_height_mm: int
    tolerance_class: str
    batch_min: int
    batch_max: int


sizes = st.integers(min_value=0, max_value=3000)
shapes = st.builds(
    Shape,
    sizes,
    sizes,
    sizes,
    st.sampled_from(TOLERANCE_CLASSES),
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=1, max_value=500),
)
needs = st.builds(
    Need,
    part_mm=st.one_of(
        st.just(()), st.lists(st.one_of(st.none(), sizes), min_size=1, max_size=4).map(tuple)
    ),
    tolerance_class=st.one_of(st.none(), st.sampled_from(TOLERANCE_CLASSES)),
    quantity=st.one_of(st.none(), st.integers(min_value=1, max_value=600)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(shapes, min_size=0, max_size=30), needs)
def test_the_table_fits_exactly_the_shops_the_rule_fits(shops, need):
    assert FitTable(shops).fitting(need).tolist() == [fits(shop, need) for shop in shops]


latitudes = st.floats(min_value=-89.9, max_value=89.9)
longitudes = st.floats(min_value=-180, max_value=180)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(latitudes, longitudes), min_size=1, max_size=20), latitudes, longitudes)
def test_distances_and_shipping_weeks_agree_with_the_rule(places, lat, lon):
    km = distances_km(np.array([p[0] for p in places]), np.array([p[1] for p in places]), lat, lon)
    one_by_one = [distance_km(p[0], p[1], lat, lon) for p in places]
    assert np.allclose(km, one_by_one, rtol=1e-12, atol=1e-9)
    # Away from a day's boundary (within a micrometre), the shipping weeks are the same.
    clear = [abs(k / 500 - round(k / 500)) > 1e-9 for k in one_by_one]
    weeks = lead_weeks_of(km).tolist()
    assert [w for w, c in zip(weeks, clear, strict=True) if c] == [
        lead_weeks(k) for k, c in zip(one_by_one, clear, strict=True) if c
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=4),
    st.lists(st.integers(min_value=0, max_value=10**6), max_size=20),
)
def test_prices_are_the_rule_s_whole_minor_units(hours, rates):
    assert prices_minor(hours, np.array(rates, dtype=np.int64)).tolist() == [
        price_minor(hours, rate) for rate in rates
    ]
