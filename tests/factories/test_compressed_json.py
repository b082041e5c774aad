"""A compressed JSON document is the compact JSON of the value, whatever its shape: the
pieces streamed to the compressor add up to what one `json.dumps` would write."""

from __future__ import annotations

import json
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from factories.models import compress_json, decompress_json

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.text(), st.integers()), inner, max_size=5),
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_the_stored_text_is_the_compact_json_of_the_value(value):
    stored = compress_json(value)
    assert zlib.decompress(stored).decode() == json.dumps(value, separators=(",", ":"))
    assert decompress_json(stored) == json.loads(json.dumps(value))


def test_a_large_document_is_a_fraction_of_its_json():
    jobs = [{"id": f"line-{i}", "options": [{"factory": "f", "cost": i}] * 20} for i in range(2000)]
    stored = compress_json({"version": 1, "jobs": jobs})
    assert decompress_json(stored) == {"version": 1, "jobs": jobs}
    assert len(stored) < len(json.dumps({"jobs": jobs})) / 10
