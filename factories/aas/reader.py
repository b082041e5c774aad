"""An Asset Administration Shell file (AAS JSON or XML) back into a factory profile.

The file is parsed by BaSyx's own deserializers, strictly; the shell is then walked by
semantic id and idShort (see factories.aas.schema), and every element missing or of the
wrong kind is a FactoryError naming its path in the shell.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import json as aas_json
from basyx.aas.adapter import xml as aas_xml
from basyx.aas.model import datatypes
from pydantic import ValidationError

from factories.aas.schema import (
    CAPABILITY_DESCRIPTION,
    CAPACITY,
    COMPANY_DATA,
    NAMEPLATE,
    STANDING,
    cap_iri,
    check_format,
    our_iri,
    semantic_of,
)
from factories.errors import N_, FactoryError, field_path
from factories.profile.schema import (
    BATCH_CONSTRAINT,
    ENVELOPE_PROPERTIES,
    CapabilityEntry,
    Constraint,
    FactoryProfile,
    MaterialEntry,
    Price,
    RangeProperty,
    canonical,
)
from factories.taxonomy import PROCESSES

_basyx_parse_xsd_datetime = datatypes._parse_xsd_datetime


def _parse_xsd_datetime(value: str) -> datatypes.DateTime:
    """xs:dateTime with the fraction of a second read digit by digit.

    BaSyx (2.2) reads the fraction through a float and truncates it, so about one value
    in a hundred comes back a microsecond early ("13.251061" gives 251060 µs) and a
    shell would not give back the capacity timestamp it was written with."""
    parsed = _basyx_parse_xsd_datetime(value)
    match = datatypes.DATETIME_RE.match(value)
    if match is None or not match[8]:
        return parsed
    return parsed.replace(microsecond=int(match[8][1:7].ljust(6, "0")))


# Both of BaSyx's readers (JSON and XML) parse values through this module function.
datatypes._parse_xsd_datetime = _parse_xsd_datetime


# Byte order marks of the encodings other than UTF-8 that XML parsers recognize.
FOREIGN_BOMS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xfe\xff", b"\xff\xfe")
_DECLARED_ENCODING = re.compile(r"""\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")


def check_plain_xml(data: bytes) -> None:
    """UTF-8 only, and no document type declaration: a DTD could define entities (billion
    laughs, files of the server), and a UTF-16 or UTF-32 document, by its byte order mark
    or its declared encoding, would hide one from a check on the bytes."""
    if data.startswith(FOREIGN_BOMS):
        raise FactoryError("file", N_("XML must be encoded in UTF-8"))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FactoryError("file", N_("XML must be encoded in UTF-8")) from None
    declared = _DECLARED_ENCODING.match(text)
    if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise FactoryError("file", N_("XML must be encoded in UTF-8"))
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise FactoryError("file", N_("document type declarations are not accepted"))


def read(data: bytes, fmt: str) -> FactoryProfile:
    """Parse an AAS environment file with BaSyx's own deserializers, strictly."""
    check_format(fmt)
    try:
        if fmt == "aas-json":
            store = aas_json.read_aas_json_file(io.StringIO(data.decode("utf-8")), failsafe=False)
        else:
            check_plain_xml(data)
            store = aas_xml.read_aas_xml_file(
                io.BytesIO(data),
                failsafe=False,
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
            )
    except FactoryError:
        raise
    except Exception as error:  # json, lxml and BaSyx raise many kinds for broken input
        raise FactoryError(
            "file",
            N_("not a valid AAS environment (%(format)s): %(error)s", format=fmt, error=error),
        ) from error
    return store_to_profile(store)


class _Reader:
    """Walks a shell's submodels by semantic id and idShort, naming what is missing."""

    def __init__(self, store: model.AbstractObjectStore) -> None:
        self.store = store

    @staticmethod
    def fail(path: str, message: str) -> FactoryError:
        return FactoryError(path, message)

    def submodel(self, semantic: str, name: str, required: bool = True) -> model.Submodel | None:
        found = [
            obj
            for obj in self.store
            if isinstance(obj, model.Submodel) and semantic_of(obj) == semantic
        ]
        if len(found) > 1:
            raise self.fail(name, N_("the file has more than one such submodel"))
        if not found:
            if required:
                raise self.fail(
                    name, N_("the submodel is missing (semantic id %(id)s)", id=semantic)
                )
            return None
        return found[0]

    def child(self, parent: Any, id_short: str, path: str, required: bool = True) -> Any:
        try:
            return parent.get_referable(id_short)
        except KeyError:
            if required:
                raise self.fail(f"{path}/{id_short}", N_("is missing")) from None
            return None

    def value(self, parent: Any, id_short: str, path: str, required: bool = True) -> Any:
        element = self.child(parent, id_short, path, required)
        if element is None:
            return None
        if isinstance(element, model.MultiLanguageProperty):
            texts = dict(element.value or {})
            return texts.get("en") or next(iter(texts.values()), "")
        if not isinstance(element, model.Property):
            raise self.fail(f"{path}/{id_short}", N_("must be a Property"))
        if element.value is None and required:
            raise self.fail(f"{path}/{id_short}", N_("has no value"))
        return element.value


def _as_date(value: Any, path: str) -> date:
    if not isinstance(value, date):
        raise FactoryError(path, N_("must be an xs:date"))
    return date(value.year, value.month, value.day)


def store_to_profile(store: model.AbstractObjectStore) -> FactoryProfile:
    reader = _Reader(store)
    shells = [obj for obj in store if isinstance(obj, model.AssetAdministrationShell)]
    if len(shells) != 1:
        raise FactoryError(
            "file",
            N_("expected one asset administration shell, found %(count)s", count=len(shells)),
        )
    factory_id = shells[0].asset_information.global_asset_id
    if not factory_id:
        raise FactoryError("assetInformation.globalAssetId", N_("is missing"))

    nameplate = reader.submodel(NAMEPLATE, "Nameplate")
    address = reader.child(nameplate, "AddressInformation", "Nameplate")
    where = "Nameplate/AddressInformation"
    name = reader.value(nameplate, "ManufacturerName", "Nameplate")
    location = {
        "country": reader.value(address, "NationalCode", where),
        "region": reader.value(address, "StateCounty", where),
        "city": reader.value(address, "CityTown", where, required=False) or "",
        "latitude": reader.value(address, "Latitude", where),
        "longitude": reader.value(address, "Longitude", where),
    }

    company = reader.submodel(COMPANY_DATA, "CompanyData")
    governance = reader.child(company, "CompanyGovernance", "CompanyData")
    standards = reader.child(governance, "IndustryStandards", "CompanyData/CompanyGovernance")
    where = "CompanyData/CompanyGovernance/IndustryStandards"
    certifications = []
    for i, item in enumerate(reader.child(standards, "Certifications", where).value):
        at = f"{where}/Certifications[{i}]"
        certifications.append(
            {
                "certificateType": reader.value(item, "CertificationStandard", at),
                "issuer": reader.value(item, "ApprovalAgency", at),
                "registrationNumber": reader.value(item, "CertificateNumber", at),
                "validFrom": _as_date(reader.value(item, "IssueDate", at), f"{at}/IssueDate"),
                "validUntil": _as_date(reader.value(item, "ExpiryDate", at), f"{at}/ExpiryDate"),
                "certificateVersion": reader.value(item, "CertificateVersion", at, False) or "",
            }
        )

    capacity = reader.submodel(CAPACITY, "Capacity")
    prices = {}
    for i, item in enumerate(reader.child(capacity, "Prices", "Capacity").value):
        at = f"Capacity/Prices[{i}]"
        prices[reader.value(item, "CapabilityId", at)] = {
            "value": reader.value(item, "Value", at),
            "currency": reader.value(item, "Currency", at),
            "unitForPrice": reader.value(item, "UnitForPrice", at),
        }
    capacities = []
    for i, item in enumerate(reader.child(capacity, "Capacities", "Capacity").value):
        at = f"Capacity/Capacities[{i}]"
        capacities.append(
            {
                "capabilityId": reader.value(item, "CapabilityId", at),
                "pointInTime": _as_date(reader.value(item, "PointInTime", at), f"{at}/PointInTime"),
                "actualCapacity": reader.value(item, "ActualCapacity", at),
                "maximumCapacity": reader.value(item, "MaximumCapacity", at),
                "bookedCapacity": reader.value(item, "BookedCapacity", at),
            }
        )

    capabilities = _read_capabilities(reader, prices)

    standing = reader.submodel(STANDING, "MarketplaceStanding", required=False)
    status, reason, credit = "pending", "", None
    if standing is not None:
        status = reader.value(standing, "Status", "MarketplaceStanding")
        reason = reader.value(standing, "StatusReason", "MarketplaceStanding", False) or ""
        score = reader.value(standing, "CreditScore", "MarketplaceStanding", False)
        credit = {"score": score} if score is not None else None

    # Validated as one document, so that every problem is reported, each at its place
    # in the profile (location.country, capacity.capacities[3].maximumCapacity ...).
    try:
        profile = FactoryProfile.model_validate(
            {
                "factoryId": factory_id,
                "name": name,
                "status": status,
                "statusReason": reason,
                "location": location,
                "certifications": certifications,
                "capabilities": capabilities,
                "capacity": {
                    "unitOfMeasure": reader.value(capacity, "UnitOfMeasure", "Capacity"),
                    "updatedAt": reader.value(capacity, "UpdatedAt", "Capacity", False),
                    "capacities": capacities,
                },
                "credit": credit,
            }
        )
    except ValidationError as error:
        raise FactoryError.of(
            (field_path(problem["loc"]) or "file", problem["msg"])
            for problem in error.errors(include_url=False)
        ) from error
    return canonical(profile)


def _read_capabilities(reader: _Reader, prices: dict[str, dict[str, Any]]) -> list[CapabilityEntry]:
    description = reader.submodel(CAPABILITY_DESCRIPTION, "CapabilityDescription")
    capability_set = reader.child(description, "CapabilitySet", "CapabilityDescription")
    entries = []
    for container in capability_set.value:
        if semantic_of(container) != cap_iri("CapabilityContainer"):
            continue
        where = f"CapabilityDescription/CapabilitySet/{container.id_short}"
        capability = [e for e in container.value if isinstance(e, model.Capability)]
        if len(capability) != 1:
            raise FactoryError(where, N_("must hold exactly one Capability element"))
        code = capability[0].id_short
        property_set = reader.child(container, "PropertySet", where)
        properties, constraints, materials, tolerance = [], [], [], None
        for holder in property_set.value:
            at = f"{where}/PropertySet/{holder.id_short}"
            for element in holder.value:
                if isinstance(element, model.Range):
                    concept = next(
                        (
                            key.value
                            for ref in element.supplemental_semantic_id
                            for key in ref.key
                            if key.value.startswith(our_iri("Capability", ""))
                        ),
                        "",
                    ).rpartition("#")[2]
                    if concept in ENVELOPE_PROPERTIES:
                        properties.append(
                            RangeProperty(
                                propertyId=concept, minValue=element.min, maxValue=element.max
                            )
                        )
                    elif concept == BATCH_CONSTRAINT:
                        constraints.append(
                            Constraint(
                                constraintId=concept, minValue=element.min, maxValue=element.max
                            )
                        )
                    else:
                        raise FactoryError(f"{at}/{element.id_short}", N_("unknown property range"))
                elif (
                    isinstance(element, model.SubmodelElementList)
                    and element.id_short == "Materials"
                ):
                    materials = [MaterialEntry(materialFamily=p.value) for p in element.value]
                elif isinstance(element, model.Property) and element.id_short == "GeneralTolerance":
                    tolerance = element.value
        if tolerance is None:
            raise FactoryError(
                f"{where}/PropertySet", N_("%(name)s is missing", name="GeneralTolerance")
            )
        if code not in prices:
            raise FactoryError("Capacity/Prices", N_("no price for capability %(code)s", code=code))
        process = PROCESSES.get(code)
        entries.append(
            CapabilityEntry(
                capabilityId=code,
                processClass=process.group.iri if process else "",
                properties=properties,
                materials=materials,
                generalTolerance=tolerance,
                constraints=constraints,
                price=Price(**prices[code]),
            )
        )
    return entries


def detect_format(data: bytes, filename: str = "") -> str:
    """`profile-json`, `aas-json` or `aas-xml`, from the content (and the file name)."""
    head = data.lstrip()[:1]
    if head == b"<" or filename.lower().endswith(".xml"):
        return "aas-xml"
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise FactoryError("file", N_("neither JSON nor XML: %(error)s", error=error)) from error
    if isinstance(document, dict) and "assetAdministrationShells" in document:
        return "aas-json"
    return "profile-json"
