"""What a machine's message must be (docs/telemetry.md, "MQTT"): the topic, the JSON
payload, and why one is refused. OPC UA readings are turned into the same `Reading`."""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from factories.capacity.weeks import monday_of, monday_of_week_label
from factories.telemetry.models import DIGEST_LENGTH, MachineState

TOPIC_PREFIX = "factoryweb/v1/factories/"
SUBSCRIPTION = "factoryweb/v1/factories/+/machines/+/state"
MAX_PAYLOAD_BYTES = 4096
MAX_FUTURE = timedelta(minutes=5)
FORECAST_WEEKS = 12
MAX_MACHINE_HOURS = Decimal(168)
MACHINE_ID_MAX = 64
_TOPIC = re.compile(r"^factoryweb/v1/factories/([^/]+)/machines/([^/]+)/state$")
_WEEK = re.compile(r"^\d{4}-W\d{2}$")
# The state's numeric value, as an OPC UA server may give it.
STATE_NUMBERS = dict(enumerate(MachineState))


class Rejected(ValueError):
    """A message that is refused; `reason` is the name it is counted under."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Reading:
    """One observation as a machine made it, checked."""

    at: datetime
    state: MachineState
    available_hours: dict[str, Decimal] = field(default_factory=dict)
    utilization: float | None = None

    def digest(self) -> str:
        """A stable fingerprint of what the reading says, apart from its instant: the same
        message delivered twice has the same digest, a different report at the same
        instant another one. Hours are taken as the text they are recorded as."""
        content = [
            self.state.value,
            sorted((week, str(hours)) for week, hours in self.available_hours.items()),
            self.utilization,
        ]
        canonical = json.dumps(content, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_LENGTH]


def factory_urn(factory_uuid: str) -> str:
    return f"urn:factoryweb:factory:{factory_uuid}"


def topic_for(global_id: str, machine_id: str) -> str:
    """The topic a machine publishes on, for the factory's URN and the machine's id."""
    return f"{TOPIC_PREFIX}{global_id.rsplit(':', 1)[-1]}/machines/{machine_id}/state"


def parse_topic(topic: str) -> tuple[str, str]:
    """(factory URN, machine id) of a state topic; Rejected `bad_topic` otherwise."""
    match = _TOPIC.match(topic)
    if match is None:
        raise Rejected("bad_topic", topic)
    try:
        factory_uuid = str(uuid.UUID(match.group(1)))
    except ValueError:
        raise Rejected("unknown_factory", match.group(1)) from None
    return factory_urn(factory_uuid), match.group(2)


def parse_state(value: object) -> MachineState:
    """A state by name (`OutOfService`) or numeric value (1); Rejected `bad_state`."""
    if isinstance(value, int) and not isinstance(value, bool) and value in STATE_NUMBERS:
        return STATE_NUMBERS[value]
    if isinstance(value, str):
        try:
            return MachineState(value.strip())
        except ValueError:
            pass
    raise Rejected("bad_state", repr(value)[:80])


def parse_at(value: object, now: datetime) -> datetime:
    if not isinstance(value, str) or "T" not in value.upper():
        raise Rejected("bad_at", repr(value)[:80])
    try:
        at = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise Rejected("bad_at", value[:80]) from None
    if at.tzinfo is None:
        raise Rejected("bad_at", "no time zone")
    at = at.astimezone(UTC)
    if at > now + MAX_FUTURE:
        raise Rejected("future", value[:80])
    return at


def parse_hours(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Rejected("bad_hours", repr(value)[:80])
    if isinstance(value, float) and not math.isfinite(value):
        raise Rejected("bad_hours", repr(value))
    try:
        hours = Decimal(str(value))
    except InvalidOperation:
        raise Rejected("bad_hours", repr(value)[:80]) from None
    if not hours.is_finite() or not Decimal(0) <= hours <= MAX_MACHINE_HOURS:
        raise Rejected("bad_hours", str(value)[:80])
    return hours.quantize(Decimal("0.01"))


def parse_forecast(value: object, today: date) -> dict[str, Decimal]:
    """ISO week -> hours, weeks from this one to the 12th ahead."""
    if not isinstance(value, dict):
        raise Rejected("bad_week", "available_hours is not an object")
    if len(value) > FORECAST_WEEKS:
        raise Rejected("bad_week", f"{len(value)} weeks, at most {FORECAST_WEEKS}")
    this_week = monday_of(today)
    last = this_week + timedelta(weeks=FORECAST_WEEKS)
    forecast = {}
    for label, hours in value.items():
        if not isinstance(label, str) or not _WEEK.match(label):
            raise Rejected("bad_week", repr(label)[:80])
        try:
            monday = monday_of_week_label(label)
        except ValueError:
            raise Rejected("bad_week", label) from None
        if not this_week <= monday <= last:
            raise Rejected("bad_week", f"{label} is not within the next {FORECAST_WEEKS} weeks")
        forecast[label] = parse_hours(hours)
    return forecast


def parse_utilization(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise Rejected("bad_utilization", repr(value)[:80])
    return float(value)


def parse_payload(payload: bytes, now: datetime) -> Reading:
    """The reading a payload carries; Rejected naming the first thing wrong with it."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Rejected("too_large", f"{len(payload)} bytes")
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Rejected("not_json") from None
    if not isinstance(document, dict):
        raise Rejected("not_json", "not an object")
    return parse_document(document, now)


def parse_document(document: dict, now: datetime) -> Reading:
    if "at" not in document:
        raise Rejected("bad_at", "missing")
    if "state" not in document:
        raise Rejected("bad_state", "missing")
    at = parse_at(document["at"], now)
    state = parse_state(document["state"])
    forecast = (
        parse_forecast(document["available_hours"], now.date())
        if document.get("available_hours") is not None
        else {}
    )
    return Reading(at, state, forecast, parse_utilization(document.get("utilization")))
