"""The signed credit report: a factory's score, its components, the period and number of
events it rests on, and the hash of the last ledger event when it was issued (the anchor),
signed with the platform's Ed25519 key. Format and how a lender checks it without our
code: docs/credit.md.

Everything signed is a string or an integer (scores in basis points), serialized as the
ledger serializes its events (`factories.ledger.canonical`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlmodel import Session, col, select

from factories import ledger
from factories.credit.score import PRIOR_MEAN, Standing, Tally, month_index
from factories.credit.score import standing as score_standing
from factories.credit.service import facts_of
from factories.models import Factory, LedgerEvent, id_column, id_of, utcnow

FORMAT = "factoryweb-credit-report/1"
ALGORITHM = "Ed25519"


class SigningKeyError(ValueError):
    """A signing key that is not a base64 Ed25519 private key."""


def private_key_from(text: str) -> Ed25519PrivateKey:
    """The key from its base64 form (the 32 bytes of the private key)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (binascii.Error, ValueError) as error:
        raise SigningKeyError("not a base64 Ed25519 private key (32 bytes)") from error


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_bytes(key)).decode("ascii")


def key_id(key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of SHA-256 over the raw public key."""
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


def bps(value: float) -> int:
    return round(value * 10_000)


def _components(standing: Standing) -> list[dict[str, Any]]:
    return [
        {
            "name": part.name,
            "weight_bps": bps(part.weight),
            "value_bps": bps(part.value),
            # Decayed counts, in thousandths of an event.
            "good_milli": round(part.good * 1000),
            "bad_milli": round(part.bad * 1000),
            "events": len(part.events),
        }
        for part in standing.parts
    ]


def build(session: Session, factory: Factory, now: datetime | None = None) -> dict[str, Any]:
    """The unsigned report of the factory, as of now."""
    now = now or utcnow()
    factory_id = id_of(factory)
    head = session.exec(select(LedgerEvent).order_by(col(LedgerEvent.id).desc()).limit(1)).first()
    # Everything below rests on the events up to the anchor, whatever is appended meanwhile.
    up_to = head.id if head and head.id else 0
    standing = score_standing(Tally.of(facts_of(session, factory_id, up_to)), month_index(now))
    own = col(LedgerEvent.factory_id) == factory_id, col(LedgerEvent.id) <= up_to
    first = session.exec(
        select(LedgerEvent.occurred_at).where(*own).order_by(col(LedgerEvent.id)).limit(1)
    ).first()
    count = session.exec(select(sa.func.count(id_column(LedgerEvent))).where(*own)).one()
    return {
        "format": FORMAT,
        "factory": {
            "id": factory_id,
            "global_id": factory.global_id,
            "name": factory.name,
            "country": factory.country,
        },
        "score_bps": standing.basis_points,
        "prior_bps": bps(PRIOR_MEAN),
        "components": _components(standing),
        "period": {
            "from": ledger.stamp(first) if first else None,
            "to": ledger.stamp(now),
        },
        "events": count,
        "anchor": {
            "event_id": head.id if head else 0,
            "hash": head.hash if head else ledger.GENESIS,
        },
        "issued_at": ledger.stamp(now),
    }


def sign(report: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    public = key.public_key()
    signature = key.sign(ledger.canonical(report))
    return {
        "report": report,
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id(public),
            "public_key": public_key_text(public),
            "value": base64.b64encode(signature).decode("ascii"),
        },
    }


@dataclass(frozen=True)
class Check:
    ok: bool
    reason: str = ""


def check_signature(document: Any, key: Ed25519PublicKey) -> Check:
    """Whether the document is a report signed by `key` (the platform's, not the one the
    document names)."""
    if not isinstance(document, dict) or not isinstance(document.get("report"), dict):
        return Check(False, "not a credit report: no 'report' object")
    signature = document.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        return Check(False, "not signed with Ed25519")
    try:
        value = base64.b64decode(str(signature.get("value", "")), validate=True)
        key.verify(value, ledger.canonical(document["report"]))
    except (binascii.Error, InvalidSignature, ValueError):
        return Check(False, "bad signature: not signed by the platform's key")
    return Check(True)


def check_anchor(session: Session, report: dict[str, Any]) -> Check:
    """Whether the ledger event the report rests on is in the ledger."""
    anchor = report.get("anchor")
    if not isinstance(anchor, dict):
        return Check(False, "the report has no anchor")
    value, event_id = anchor.get("hash"), anchor.get("event_id")
    if value == ledger.GENESIS and event_id == 0 and report.get("events") == 0:
        return Check(True)
    event = ledger.event_with_hash(session, str(value))
    if event is None:
        return Check(False, f"anchor hash {value} is not in the ledger")
    if event.id != event_id:
        return Check(False, f"anchor hash {value} is event {event.id}, not {event_id}")
    return Check(True)
