"""What a message must look like (docs/telemetry.md): topics, payloads, reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from factories.telemetry.messages import Rejected, parse_payload, parse_state, parse_topic

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def payload(**fields: object) -> bytes:
    return json.dumps({"at": "2026-12-02T11:59:00Z", "state": "Executing", **fields}).encode()


def reason(raw: bytes) -> str:
    with pytest.raises(Rejected) as caught:
        parse_payload(raw, NOW)
    return caught.value.reason


def test_a_good_message():
    reading = parse_payload(
        payload(state="OutOfService", available_hours={"2026-W50": 12.5}, utilization=0.4), NOW
    )
    assert reading.state == "OutOfService"
    assert reading.at == datetime(2026, 12, 2, 11, 59, tzinfo=UTC)
    assert reading.available_hours == {"2026-W50": Decimal("12.50")}
    assert reading.utilization == 0.4


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"not json", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[1, 2]", "not_json"),
        (b"x" * 4097, "too_large"),
        (payload(state="Running"), "bad_state"),
        (json.dumps({"state": "Executing"}).encode(), "bad_at"),
        (payload(at="2026-12-02T11:59:00"), "bad_at"),
        (payload(at="yesterday"), "bad_at"),
        (payload(at=(NOW + timedelta(minutes=6)).isoformat()), "future"),
        (payload(available_hours={"2026-W60": 1}), "bad_week"),
        (payload(available_hours={"2027-W30": 1}), "bad_week"),
        (payload(available_hours={"2026-W45": 1}), "bad_week"),
        (payload(available_hours={"2026-W50": 168.5}), "bad_hours"),
        (payload(available_hours={"2026-W50": -1}), "bad_hours"),
        (payload(available_hours={"2026-W50": "lots"}), "bad_hours"),
        (payload(utilization=1.5), "bad_utilization"),
    ],
)
def test_refused_messages_name_their_reason(raw, expected):
    assert reason(raw) == expected


def test_four_minutes_ahead_is_still_accepted():
    parse_payload(payload(at=(NOW + timedelta(minutes=4)).isoformat()), NOW)


def test_states_by_name_or_number():
    assert [parse_state(n) for n in range(4)] == [
        "NotAvailable",
        "OutOfService",
        "NotExecuting",
        "Executing",
    ]
    for bad in (4, True, None, "executing"):
        with pytest.raises(Rejected):
            parse_state(bad)


def test_topics():
    urn, machine = parse_topic(
        "factoryweb/v1/factories/3f0c2a9e-7b1d-4c55-9a61-2d8e4f6b1c07/machines/M-07/state"
    )
    assert urn == "urn:factoryweb:factory:3f0c2a9e-7b1d-4c55-9a61-2d8e4f6b1c07"
    assert machine == "M-07"
    with pytest.raises(Rejected, match="bad_topic"):
        parse_topic("factoryweb/v1/factories/x/machines/M-07/status")


def test_a_reports_digest_follows_its_content_not_its_instant_or_spelling():
    forecast = {"2026-W50": 12.5, "2026-W51": 30}
    digest = parse_payload(payload(available_hours=forecast, utilization=0.4), NOW).digest()
    assert len(digest) == 32 and int(digest, 16) >= 0
    # The same content, spelt otherwise and observed at another instant.
    respelt = json.dumps(
        {
            "utilization": 0.4,
            "available_hours": {"2026-W51": "30.00", "2026-W50": "12.50"},
            "state": 3,
            "at": "2026-12-02T12:59:00+01:00",
        }
    ).encode()
    assert parse_payload(respelt, NOW).digest() == digest
    others = [
        payload(available_hours=forecast, utilization=0.5),
        payload(available_hours={"2026-W50": 12.5}, utilization=0.4),
        payload(available_hours=forecast),
        payload(state="NotExecuting", available_hours=forecast, utilization=0.4),
    ]
    assert digest not in {parse_payload(raw, NOW).digest() for raw in others}
