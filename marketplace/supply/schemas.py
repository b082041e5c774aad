"""The API's models that more than one room answers with or takes: a factory, its
certifications and capabilities, and the capacity grid (Catena-X DCM field names).
Each room keeps its own request models in its `api.py`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from factories.models import Certification, text_limit
from factories.onboarding import CertificationDetails
from factories.profile.schema import HOUR_UNIT

Hours = Annotated[
    Decimal,
    Field(ge=0, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0}),
]


class FactoryPath(BaseModel):
    factory_id: int


class CertificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certificate_type: str = Field(description="taxonomy code, e.g. ISO9001")
    certificate_version: str = Field(
        default="", max_length=text_limit(Certification, "certificate_version")
    )
    registration_number: str = Field(max_length=text_limit(Certification, "registration_number"))
    issuer: str = Field(max_length=text_limit(Certification, "issuer"))
    valid_from: date
    valid_until: date

    def details(self) -> CertificationDetails:
        return CertificationDetails(
            certificate_type=self.certificate_type,
            certificate_version=self.certificate_version,
            registration_number=self.registration_number,
            issuer=self.issuer,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
        )


class CertificationOut(CertificationIn):
    id: int
    valid_today: bool
    expired: bool


class CapabilityOut(BaseModel):
    id: int
    process_code: str
    labels: dict[str, str]
    materials: list[str]
    tolerance_class: str
    max_length_mm: int
    max_width_mm: int
    max_height_mm: int
    batch_min: int
    batch_max: int
    hourly_rate: float
    hourly_rate_minor: int
    currency: str


class FactoryOut(BaseModel):
    id: int
    global_id: str
    organization_id: int
    name: str
    country: str
    region: str
    city: str
    latitude: float
    longitude: float
    status: str
    status_reason: str
    credit_score: float
    capacity_updated_at: str | None
    capacity_stale: bool
    certifications: list[CertificationOut]
    capabilities: list[CapabilityOut]


class CapacityCellOut(BaseModel):
    capabilityId: str
    pointInTime: date
    week: str
    actualCapacity: Hours
    maximumCapacity: Hours
    bookedCapacity: Hours
    freeCapacity: Hours


class CapacityOut(BaseModel):
    unitOfMeasure: str = HOUR_UNIT
    updatedAt: str | None
    stale: bool
    capabilityIds: list[str]
    weeks: list[str]
    capacities: list[CapacityCellOut]
