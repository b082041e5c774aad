"""The score over ledger events (pure): a newcomer starts at the prior, an extra on-time
delivery never lowers a score, a lost dispute never raises it, and the score is the same
however the events are added (one by one, in any order) or computed from scratch."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from factories.credit.score import (
    COMPONENTS,
    HALF_LIFE_MONTHS,
    PRIOR_MEAN,
    Fact,
    Tally,
    month_index,
    score_of,
    standing,
)
from factories.ledger import EventKind

NOW = datetime(2026, 12, 3, tzinfo=UTC)
THIS_MONTH = month_index(NOW)

K = EventKind
PAYLOADS = {
    K.DELIVERED: [{"timeliness": "on_time"}, {"timeliness": "late"}],
    K.DISPUTE_RESOLVED: [
        {"outcome": "factory_won"},
        {"outcome": "buyer_won"},
        {"outcome": "partial"},
        {"outcome": "settled"},
    ],
    K.PROPOSAL_WITHDRAWN: [{"by": "buyer"}, {"by": "factory"}],
}
KINDS = [
    K.DELIVERED,
    K.QUALITY_ACCEPTED,
    K.DISPUTE_RESOLVED,
    K.PROPOSAL_ACCEPTED,
    K.PROPOSAL_DECLINED,
    K.PROPOSAL_EXPIRED,
    K.ORDER_CONFIRMED,
    K.PROPOSAL_WITHDRAWN,
    K.MILESTONE,
    K.PAID_OUT,
]


@st.composite
def facts(draw: st.DrawFn, event_id: int = 0) -> Fact:
    kind = draw(st.sampled_from(KINDS))
    payload = draw(st.sampled_from(PAYLOADS.get(kind, [{}])))
    age = draw(st.integers(0, 60))
    return Fact(event_id=event_id, kind=kind, month=THIS_MONTH - age, payload=payload)


histories = st.lists(facts(), max_size=40).map(
    lambda items: [Fact(i + 1, f.kind, f.month, f.order_id, f.payload) for i, f in enumerate(items)]
)
ages = st.integers(0, 60)


def score(items: list[Fact]) -> float:
    return score_of(items, NOW)


def test_a_newcomer_starts_at_the_prior():
    assert score([]) == PRIOR_MEAN
    assert abs(sum(c.weight for c in COMPONENTS) - 1) < 1e-12


def test_one_bad_job_does_not_sink_a_small_shop():
    bad = [
        Fact(1, K.DELIVERED, THIS_MONTH, payload={"timeliness": "late"}),
        Fact(2, K.DISPUTE_RESOLVED, THIS_MONTH, payload={"outcome": "buyer_won"}),
    ]
    assert 0.55 < score(bad) < PRIOR_MEAN


def test_older_events_weigh_less():
    late_now = [Fact(1, K.DELIVERED, THIS_MONTH, payload={"timeliness": "late"})]
    late_long_ago = [
        Fact(1, K.DELIVERED, THIS_MONTH - 3 * HALF_LIFE_MONTHS, payload={"timeliness": "late"})
    ]
    assert score(late_now) < score(late_long_ago) < PRIOR_MEAN


@given(histories, ages)
def test_an_extra_on_time_delivery_never_lowers_a_score(history, age):
    extra = Fact(len(history) + 1, K.DELIVERED, THIS_MONTH - age, payload={"timeliness": "on_time"})
    assert score([*history, extra]) >= score(history)


@given(histories, ages)
def test_a_lost_dispute_never_raises_a_score(history, age):
    lost = Fact(
        len(history) + 1, K.DISPUTE_RESOLVED, THIS_MONTH - age, payload={"outcome": "buyer_won"}
    )
    assert score([*history, lost]) <= score(history)


@given(histories, st.randoms(use_true_random=False))
def test_incremental_equals_from_scratch_in_any_order(history, random):
    scratch = standing(Tally.of(history), THIS_MONTH)
    shuffled = list(history)
    random.shuffle(shuffled)
    tally = Tally()
    for fact in shuffled:
        tally.add(fact)
    incremental = standing(tally, THIS_MONTH)
    assert incremental == scratch
    assert 0 <= scratch.score <= 1
