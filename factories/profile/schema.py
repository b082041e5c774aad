"""The standardized factory profile (docs/factory-profile.md): its document.

Field names are Catena-X's where one exists (capabilityId, capabilityLabel, pointInTime,
actualCapacity, maximumCapacity, unitOfMeasure, price.{value, currency, unitForPrice},
certificateType ...) and ours elsewhere (bookedCapacity, status, credit). The JSON
Schema published at /api/v1/schemas/factory-profile.json is generated from the
pydantic models below, so the document and the code cannot disagree. Text lengths are
those of the columns the fields are stored in.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from factories.capacity.hours import MAX_WEEK_HOURS
from factories.models import Certification, Factory, text_limit
from factories.taxonomy import PROCESSES

# Final: each keeps its literal type, the one of the field it is the default of.
PROFILE_VERSION: Final = "1"
# The largest profile file (JSON, or AAS JSON or XML) an import reads.
MAX_PROFILE_BYTES = 10 * 1024 * 1024
SCHEMA_ID = "https://factoryweb.example/api/v1/schemas/factory-profile.json"
HOUR_UNIT: Final = "unit:hourUnitOfTime"
MILLIMETRE: Final = "unit:millimetre"
PIECE: Final = "unit:piece"
# A factory's status as the profile names it (the values of models.FactoryStatus).
ProfileStatus = Literal["pending", "verified", "suspended"]
# The part envelope: one Range property per axis (IDTA PropertySet / CX properties).
ENVELOPE_PROPERTIES: dict[str, tuple[str, dict[str, str]]] = {
    "workpieceLength": ("max_length_mm", {"en": "Maximum workpiece length", "zh": "最大工件长度"}),
    "workpieceWidth": ("max_width_mm", {"en": "Maximum workpiece width", "zh": "最大工件宽度"}),
    "workpieceHeight": ("max_height_mm", {"en": "Maximum workpiece height", "zh": "最大工件高度"}),
}
BATCH_CONSTRAINT = "batchSize"

Hours = Annotated[
    Decimal,
    Field(ge=0, le=MAX_WEEK_HOURS, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema(
        {
            "type": "number",
            "minimum": 0,
            "maximum": float(MAX_WEEK_HOURS),
            "description": "hours, at most two decimal places",
        }
    ),
]
Amount = Annotated[
    Decimal,
    Field(ge=0),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0}),
]
LocalizedText = dict[str, str]


class _Strict(BaseModel):
    # Unknown fields are refused with their name, never silently dropped.
    model_config = ConfigDict(extra="forbid")


class Location(_Strict):
    country: str = Field(description="ISO 3166-1 alpha-2", min_length=2, max_length=2)
    region: str = Field(min_length=1, max_length=text_limit(Factory, "region"))
    city: str = Field(default="", max_length=text_limit(Factory, "city"))
    latitude: float = Field(ge=-90, le=90, description="WGS 84 degrees")
    longitude: float = Field(ge=-180, le=180, description="WGS 84 degrees")


class CertificationEntry(_Strict):
    """CX business_partner_certificate; IDTA 02068 Certification."""

    certificateType: str = Field(description="taxonomy code, e.g. ISO9001")
    certificateVersion: str = Field(
        default="", max_length=text_limit(Certification, "certificate_version")
    )
    registrationNumber: str = Field(
        min_length=1, max_length=text_limit(Certification, "registration_number")
    )
    issuer: str = Field(min_length=1, max_length=text_limit(Certification, "issuer"))
    validFrom: date
    validUntil: date


class RangeProperty(_Strict):
    """A property with a range (IDTA 02020 PropertyRange; CX capability properties)."""

    propertyId: str = Field(description="workpieceLength, workpieceWidth or workpieceHeight")
    propertyLabel: LocalizedText = Field(default_factory=dict)
    minValue: int | None = None
    maxValue: int = Field(ge=1)
    unit: Literal["unit:millimetre"] = MILLIMETRE


class Constraint(_Strict):
    """A condition on using the capability (IDTA 02020 ConstraintSet)."""

    constraintId: str = Field(description="batchSize")
    minValue: int = Field(ge=1)
    maxValue: int = Field(ge=1)
    unit: Literal["unit:piece"] = PIECE


class MaterialEntry(_Strict):
    materialFamily: str = Field(description="taxonomy material code")


class Price(_Strict):
    """CX market_place_offer price: the hourly rate."""

    value: Amount
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217")
    unitForPrice: Literal["unit:hourUnitOfTime"] = HOUR_UNIT


class CapabilityEntry(_Strict):
    capabilityId: str = Field(description="process code of the taxonomy")
    capabilityLabel: LocalizedText = Field(
        default_factory=dict, description="from the taxonomy; ignored on import"
    )
    processClass: str = Field(default="", description="DIN 8580 main group IRI (from taxonomy)")
    generalizes: list[str] = Field(
        default_factory=list, description="broader process codes (from taxonomy)"
    )
    properties: list[RangeProperty]
    materials: list[MaterialEntry]
    generalTolerance: str = Field(description="ISO 2768 general tolerance class")
    constraints: list[Constraint]
    price: Price


class CapacityEntry(_Strict):
    """One resource in one ISO week (CX DCM week_based_capacity_group)."""

    capabilityId: str
    pointInTime: date = Field(description="Monday of the ISO week")
    actualCapacity: Hours
    maximumCapacity: Hours
    bookedCapacity: Hours = Decimal(0)


class CapacityBlock(_Strict):
    unitOfMeasure: Literal["unit:hourUnitOfTime"] = HOUR_UNIT
    updatedAt: AwareDatetime | None = Field(
        default=None, description="when the factory last changed its capacity"
    )
    capacities: list[CapacityEntry] = Field(default_factory=list)


class CreditComponent(_Strict):
    """One part of the score (docs/credit.md): its weight, its value, how many events."""

    name: str = Field(description="on_time, quality, commitment, cancellations or volume")
    weight: float = Field(ge=0, le=1)
    value: float = Field(ge=0, le=1)
    events: int = Field(ge=0, description="ledger events that made it")


class Credit(_Strict):
    score: float = Field(ge=0, le=1)
    components: list[CreditComponent] = Field(
        default_factory=list, description="the score's breakdown; ignored on import"
    )


MachineryItemState = Literal["NotAvailable", "OutOfService", "NotExecuting", "Executing"]


class MachineStatus(_Strict):
    """One registered machine as it last reported (OPC 40001-1 MachineryItemState)."""

    machineId: str = Field(max_length=64)
    capabilityId: str = Field(description="the process the machine serves")
    machineryItemState: MachineryItemState | None = None
    utilization: float | None = Field(default=None, ge=0, le=1)
    observedAt: AwareDatetime | None = None
    silent: bool = Field(description="said nothing for 15 minutes (or never)")


class LiveStatus(_Strict):
    """What the factory's machines say (docs/telemetry.md); written by the marketplace,
    ignored on import. The factory's state is the most productive state any machine
    is in, its utilization the mean of what the machines reported (ISO 22400)."""

    machineryItemState: MachineryItemState | None = None
    utilization: float | None = Field(default=None, ge=0, le=1)
    observedAt: AwareDatetime | None = None
    machines: list[MachineStatus] = Field(default_factory=list)


class FactoryProfile(_Strict):
    """What a factory can make and how many hours it has free: FactoryWeb profile v1."""

    model_config = ConfigDict(extra="forbid", title="FactoryProfile")

    profileVersion: Literal["1"] = PROFILE_VERSION
    factoryId: str = Field(
        pattern=r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$",
        max_length=text_limit(Factory, "global_id"),
        description="global id, urn:factoryweb:factory:<uuid> (AAS globalAssetId)",
    )
    name: str = Field(min_length=1, max_length=text_limit(Factory, "name"))
    status: ProfileStatus = "pending"
    statusReason: str = Field(default="", max_length=text_limit(Factory, "status_reason"))
    location: Location
    certifications: list[CertificationEntry] = Field(default_factory=list)
    capabilities: list[CapabilityEntry] = Field(default_factory=list)
    capacity: CapacityBlock = Field(default_factory=CapacityBlock)
    credit: Credit | None = None
    liveStatus: LiveStatus | None = Field(
        default=None, description="from the factory's machines; ignored on import"
    )


def profile_json_schema() -> dict[str, Any]:
    schema = FactoryProfile.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


# Canonical order ----------------------------------------------------------------


def process_labels(code: str) -> LocalizedText:
    process = PROCESSES.get(code)
    return {"en": process.en, "zh": process.zh} if process else {}


def certification_order(entry: CertificationEntry) -> tuple:
    """Certifications sort by type, validity, then the rest, so that the order is stable."""
    return (
        entry.certificateType,
        entry.validFrom,
        entry.validUntil,
        entry.registrationNumber,
        entry.issuer,
        entry.certificateVersion,
    )


def canonical(profile: FactoryProfile) -> FactoryProfile:
    """The profile in the order export writes it, with the derived fields filled in."""
    capabilities = []
    for entry in sorted(profile.capabilities, key=lambda c: c.capabilityId):
        process = PROCESSES.get(entry.capabilityId)
        properties = sorted(
            (
                p.model_copy(update={"propertyLabel": dict(ENVELOPE_PROPERTIES[p.propertyId][1])})
                if p.propertyId in ENVELOPE_PROPERTIES
                else p
                for p in entry.properties
            ),
            key=lambda p: (
                list(ENVELOPE_PROPERTIES).index(p.propertyId)
                if p.propertyId in ENVELOPE_PROPERTIES
                else len(ENVELOPE_PROPERTIES)
            ),
        )
        capabilities.append(
            entry.model_copy(
                update={
                    "capabilityLabel": process_labels(entry.capabilityId),
                    "processClass": process.group.iri if process else "",
                    "generalizes": list(process.generalizes) if process else [],
                    "properties": properties,
                    "materials": sorted(
                        {m.materialFamily: m for m in entry.materials}.values(),
                        key=lambda m: m.materialFamily,
                    ),
                }
            )
        )
    return profile.model_copy(
        update={
            "certifications": sorted(profile.certifications, key=certification_order),
            "capabilities": capabilities,
            "capacity": profile.capacity.model_copy(
                update={
                    "capacities": sorted(
                        profile.capacity.capacities, key=lambda c: (c.capabilityId, c.pointInTime)
                    )
                }
            ),
        }
    )
