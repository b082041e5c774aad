"""A factory as an Asset Administration Shell (Eclipse BaSyx Python SDK), and back.

The shell's asset is the factory (globalAssetId = factoryId). Its submodels:

- Nameplate (IDTA 02006 Digital Nameplate 3.0): manufacturer name, address
  (ContactInformation IRDIs), facility identifier; latitude and longitude sit in the
  address with our own semantic ids, as the template has no field for them.
- CompanyData (IDTA 02068): the certifications, under CompanyGovernance /
  IndustryStandards / Certifications.
- CapabilityDescription (IDTA 02020): one CapabilityContainer per process, holding the
  Capability element, its comment (labels), a PropertySet (part envelope as ranges,
  materials, general tolerance, batch size) and CapabilityRelations (GeneralizedBySet,
  ConstraintSet with the batch-size constraint), all with the template's semantic ids.
- Capacity (ours, no IDTA template covers spare capacity): unit, hourly rates and the
  week-based capacities with Catena-X DCM names.
- MarketplaceStanding (ours): status and credit score on this marketplace.

The conversion goes through the profile: profile -> shell -> profile is exact, so
export and import of the shell are as lossless as the profile's.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import json as aas_json
from basyx.aas.adapter import xml as aas_xml
from basyx.aas.model import datatypes
from pydantic import ValidationError

from factories.errors import N_, FactoryError
from factories.profile import (
    BATCH_CONSTRAINT,
    ENVELOPE_PROPERTIES,
    CapabilityEntry,
    CapacityBlock,
    CapacityEntry,
    CertificationEntry,
    Constraint,
    Credit,
    FactoryProfile,
    Location,
    MaterialEntry,
    Price,
    RangeProperty,
    canonical,
)
from factories.taxonomy import PROCESSES

FORMATS = ("aas-json", "aas-xml")


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

# IDTA 02006 Digital Nameplate 3.0 and the ContactInformation IRDIs it reuses.
NAMEPLATE = "https://admin-shell.io/idta/nameplate/3/0/Nameplate"
NP_URI_OF_PRODUCT = "0112/2///61987#ABN590#002"
NP_MANUFACTURER_NAME = "0112/2///61987#ABA565#009"
NP_PRODUCT_DESIGNATION = "0112/2///61987#ABA567#009"
NP_ADDRESS = "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/AddressInformation"
NP_CITY = "0173-1#02-AAO132#002"
NP_STATE = "0173-1#02-AAO133#002"
NP_COUNTRY = "0173-1#02-AAO134#002"
NP_FACILITY = "https://admin-shell.io/idta/nameplate/3/0/UniqueFacilityIdentifier"

# IDTA 02068 Provision of Company Data.
COMPANY_DATA = "https://admin-shell.io/idta/CompanyData/1/0/CompanyData"


def _cd(name: str) -> str:
    return f"https://admin-shell.io/idta/CompanyData/{name}/1/0"


# IDTA 02020 Capability Description.
CAPABILITY_DESCRIPTION = "https://admin-shell.io/idta/SubmodelTemplate/CapabilityDescription/1/0"


def _cap(element: str) -> str:
    return f"https://admin-shell.io/idta/CapabilityDescription/{element}/1/0"


CAP_PROPERTY_RANGE = "https://admin-shell.io/idta/CapabilityPropertyEnumType/Range/1/0"
CAP_PROPERTY_PROPERTY = "https://admin-shell.io/idta/CapabilityPropertyType/Property/1/0"
CAP_PROPERTY_LIST = "https://admin-shell.io/idta/CapabilityPropertyType/SubmodelElementList/1/0"
CAP_BASIC_CONSTRAINT = _cap("PropertyConstraintType/BasicConstraint")

# Ours.
OURS = "urn:factoryweb:aas"
CAPACITY = f"{OURS}:submodel:Capacity:1:0"
STANDING = f"{OURS}:submodel:MarketplaceStanding:1:0"
LATITUDE = f"{OURS}:concept:Latitude:1:0"
LONGITUDE = f"{OURS}:concept:Longitude:1:0"
PROCESS_PREFIX = "urn:factoryweb:process:"


def _ours(submodel: str, element: str) -> str:
    return f"{OURS}:submodel:{submodel}:1:0#{element}"


# Building ------------------------------------------------------------------------------


def _ref(iri: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def _text(values: dict[str, str]) -> model.MultiLanguageTextType:
    return model.MultiLanguageTextType({lang: text for lang, text in values.items() if text})


def _prop(id_short: str | None, value_type: type, value: Any, semantic: str) -> model.Property:
    return model.Property(id_short, value_type, value, semantic_id=_ref(semantic))


def _mlp(id_short: str, values: dict[str, str], semantic: str) -> model.MultiLanguageProperty:
    return model.MultiLanguageProperty(id_short, _text(values), semantic_id=_ref(semantic))


def _smc(
    id_short: str | None, semantic: str, value: Iterable[model.SubmodelElement] = ()
) -> model.SubmodelElementCollection:
    return model.SubmodelElementCollection(id_short, value, semantic_id=_ref(semantic))


def _date(day: date) -> model.datatypes.Date:
    return model.datatypes.Date(day.year, day.month, day.day)


def profile_to_store(profile: FactoryProfile) -> model.DictIdentifiableStore:
    """The shell and its submodels for a profile."""
    base = profile.factoryId
    submodels = [
        _nameplate(profile, f"{base}/submodel/Nameplate"),
        _company_data(profile, f"{base}/submodel/CompanyData"),
        _capability_description(profile, f"{base}/submodel/CapabilityDescription"),
        _capacity(profile, f"{base}/submodel/Capacity"),
        _standing(profile, f"{base}/submodel/MarketplaceStanding"),
    ]
    shell = model.AssetAdministrationShell(
        asset_information=model.AssetInformation(
            asset_kind=model.AssetKind.INSTANCE, global_asset_id=profile.factoryId
        ),
        id_=f"{base}/aas",
        id_short="Factory",
        description=_text({"en": profile.name}),
        submodel={model.ModelReference.from_referable(s) for s in submodels},
    )
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    store.add(shell)
    for submodel in submodels:
        store.add(submodel)
    return store


def _nameplate(profile: FactoryProfile, id_: str) -> model.Submodel:
    location = profile.location
    address = [
        _mlp("StateCounty", {"en": location.region}, NP_STATE),
        _mlp("NationalCode", {"en": location.country}, NP_COUNTRY),
        _prop("Latitude", model.datatypes.Double, location.latitude, LATITUDE),
        _prop("Longitude", model.datatypes.Double, location.longitude, LONGITUDE),
    ]
    if location.city:
        address.insert(0, _mlp("CityTown", {"en": location.city}, NP_CITY))
    return model.Submodel(
        id_,
        id_short="Nameplate",
        semantic_id=_ref(NAMEPLATE),
        submodel_element=[
            _prop("URIOfTheProduct", model.datatypes.AnyURI, profile.factoryId, NP_URI_OF_PRODUCT),
            _mlp("ManufacturerName", {"en": profile.name}, NP_MANUFACTURER_NAME),
            _mlp(
                "ManufacturerProductDesignation",
                {"en": "Manufacturing capacity", "zh": "制造产能"},
                NP_PRODUCT_DESIGNATION,
            ),
            _smc("AddressInformation", NP_ADDRESS, address),
            _prop(
                "UniqueFacilityIdentifier", model.datatypes.String, profile.factoryId, NP_FACILITY
            ),
        ],
    )


def _company_data(profile: FactoryProfile, id_: str) -> model.Submodel:
    certificates = []
    for entry in profile.certifications:
        elements = [
            _prop(
                "CertificationStandard", str, entry.certificateType, _cd("CertificationStandard")
            ),
            _prop("ApprovalAgency", str, entry.issuer, _cd("ApprovalAgency")),
            _prop("CertificateNumber", str, entry.registrationNumber, _cd("CertificateNumber")),
            _prop("IssueDate", model.datatypes.Date, _date(entry.validFrom), _cd("IssueDate")),
            _prop("ExpiryDate", model.datatypes.Date, _date(entry.validUntil), _cd("ExpiryDate")),
        ]
        if entry.certificateVersion:
            elements.append(
                _prop(
                    "CertificateVersion",
                    str,
                    entry.certificateVersion,
                    _ours("CompanyData", "CertificateVersion"),
                )
            )
        certificates.append(_smc(None, _cd("Certification"), elements))
    certifications = model.SubmodelElementList(
        "Certifications",
        model.SubmodelElementCollection,
        certificates,
        semantic_id=_ref(_cd("Certifications")),
        semantic_id_list_element=_ref(_cd("Certification")),
    )
    return model.Submodel(
        id_,
        id_short="CompanyData",
        semantic_id=_ref(COMPANY_DATA),
        submodel_element=[
            _smc(
                "CompanyIdentification",
                _cd("CompanyIdentification"),
                [_prop("CompanyName", str, profile.name, _cd("CompanyName"))],
            ),
            _smc(
                "CompanyGovernance",
                _cd("CompanyGovernance"),
                [_smc("IndustryStandards", _cd("IndustryStandards"), [certifications])],
            ),
        ],
    )


def _id_short(property_id: str) -> str:
    return property_id[0].upper() + property_id[1:]


def _capability_description(profile: FactoryProfile, id_: str) -> model.Submodel:
    capability_set = _smc("CapabilitySet", _cap("CapabilitySet"))
    submodel = model.Submodel(
        id_,
        id_short="CapabilityDescription",
        semantic_id=_ref(CAPABILITY_DESCRIPTION),
        submodel_element=[capability_set],
    )
    for entry in profile.capabilities:
        supplemental = [_ref(PROCESS_PREFIX + entry.capabilityId)]
        if entry.processClass:
            supplemental.append(_ref(entry.processClass))
        capability = model.Capability(
            entry.capabilityId,
            semantic_id=_ref(_cap("Capability")),
            supplemental_semantic_id=supplemental,
        )
        containers = []
        for prop in entry.properties:
            containers.append(
                _smc(
                    f"PropertyContainer_{prop.propertyId}",
                    _cap("PropertyContainer"),
                    [
                        model.Range(
                            _id_short(prop.propertyId),
                            int,
                            min=prop.minValue,
                            max=prop.maxValue,
                            semantic_id=_ref(CAP_PROPERTY_RANGE),
                            supplemental_semantic_id=[_ref(_ours("Capability", prop.propertyId))],
                        ),
                        _mlp("PropertyComment", {"en": prop.unit}, _cap("PropertyComment")),
                    ],
                )
            )
        materials = model.SubmodelElementList(
            "Materials",
            model.Property,
            [
                model.Property(None, str, m.materialFamily, semantic_id=_ref(CAP_PROPERTY_PROPERTY))
                for m in entry.materials
            ],
            semantic_id=_ref(CAP_PROPERTY_LIST),
            semantic_id_list_element=_ref(CAP_PROPERTY_PROPERTY),
            value_type_list_element=str,
        )
        containers.append(
            _smc("PropertyContainer_materials", _cap("PropertyContainer"), [materials])
        )
        containers.append(
            _smc(
                "PropertyContainer_generalTolerance",
                _cap("PropertyContainer"),
                [_prop("GeneralTolerance", str, entry.generalTolerance, CAP_PROPERTY_PROPERTY)],
            )
        )
        ranges_of_constraints = []
        for constraint in entry.constraints:
            ranges_of_constraints.append(
                (
                    constraint,
                    model.Range(
                        _id_short(constraint.constraintId),
                        int,
                        min=constraint.minValue,
                        max=constraint.maxValue,
                        semantic_id=_ref(CAP_PROPERTY_RANGE),
                        supplemental_semantic_id=[
                            _ref(_ours("Capability", constraint.constraintId))
                        ],
                    ),
                )
            )
            containers.append(
                _smc(
                    f"PropertyContainer_{constraint.constraintId}",
                    _cap("PropertyContainer"),
                    [
                        ranges_of_constraints[-1][1],
                        _mlp("PropertyComment", {"en": constraint.unit}, _cap("PropertyComment")),
                    ],
                )
            )
        generalized = _smc("GeneralizedBySet", _cap("GeneralizedBySet"))
        constraint_set = _smc("ConstraintSet", _cap("ConstraintSet"))
        relations = _smc("CapabilityRelations", _cap("CapabilityRelations"))
        container = _smc(
            f"CapabilityContainer_{entry.capabilityId}",
            _cap("CapabilityContainer"),
            [
                capability,
                _mlp("CapabilityComment", entry.capabilityLabel, _cap("CapabilityComment")),
                _smc("PropertySet", _cap("PropertySet"), containers),
                relations,
            ],
        )
        capability_set.value.add(container)
        # Relationships refer to elements by their place in the submodel, so they are
        # added once the elements have a place.
        for general in entry.generalizes:
            generalized.value.add(
                model.RelationshipElement(
                    f"GeneralizedBy_{general}",
                    first=model.ModelReference.from_referable(capability),
                    second=_ref(PROCESS_PREFIX + general),
                    semantic_id=_ref(_cap("CapabilityGeneralizedBy")),
                )
            )
        relations.value.add(generalized)
        relations.value.add(constraint_set)
        for constraint, range_element in ranges_of_constraints:
            holder = _smc(
                f"PropertyConstraintContainer_{constraint.constraintId}",
                _cap("PropertyConstraintContainer"),
                [
                    _prop(
                        "BasicConstraint",
                        str,
                        f"{constraint.minValue} <= {_id_short(constraint.constraintId)} "
                        f"<= {constraint.maxValue}",
                        CAP_BASIC_CONSTRAINT,
                    ),
                    _prop("ConstraintType", str, "BasicConstraint", _cap("ConstraintType")),
                    _prop(
                        "PropertyConditionalType",
                        str,
                        "Precondition",
                        _cap("PropertyConditionalType"),
                    ),
                ],
            )
            constraint_set.value.add(holder)
            holder.value.add(
                _smc(
                    "ConstraintPropertyRelations",
                    _cap("ConstraintPropertyRelations"),
                    [
                        model.RelationshipElement(
                            "ConstraintHasProperty",
                            first=model.ModelReference.from_referable(holder),
                            second=model.ModelReference.from_referable(range_element),
                            semantic_id=_ref(_cap("ConstraintHasProperty")),
                        )
                    ],
                )
            )
    return submodel


def _capacity(profile: FactoryProfile, id_: str) -> model.Submodel:
    def item(elements: list[model.SubmodelElement], name: str) -> model.SubmodelElementCollection:
        return _smc(None, _ours("Capacity", name), elements)

    prices = [
        item(
            [
                _prop("CapabilityId", str, entry.capabilityId, _ours("Capacity", "capabilityId")),
                _prop("Value", Decimal, entry.price.value, _ours("Capacity", "price.value")),
                _prop("Currency", str, entry.price.currency, _ours("Capacity", "price.currency")),
                _prop(
                    "UnitForPrice",
                    str,
                    entry.price.unitForPrice,
                    _ours("Capacity", "price.unitForPrice"),
                ),
            ],
            "price",
        )
        for entry in profile.capabilities
    ]
    capacities = [
        item(
            [
                _prop("CapabilityId", str, c.capabilityId, _ours("Capacity", "capabilityId")),
                _prop(
                    "PointInTime",
                    model.datatypes.Date,
                    _date(c.pointInTime),
                    _ours("Capacity", "pointInTime"),
                ),
                _prop(
                    "ActualCapacity", Decimal, c.actualCapacity, _ours("Capacity", "actualCapacity")
                ),
                _prop(
                    "MaximumCapacity",
                    Decimal,
                    c.maximumCapacity,
                    _ours("Capacity", "maximumCapacity"),
                ),
                _prop(
                    "BookedCapacity", Decimal, c.bookedCapacity, _ours("Capacity", "bookedCapacity")
                ),
            ],
            "capacity",
        )
        for c in profile.capacity.capacities
    ]
    elements: list[model.SubmodelElement] = [
        _prop(
            "UnitOfMeasure",
            str,
            profile.capacity.unitOfMeasure,
            _ours("Capacity", "unitOfMeasure"),
        ),
        model.SubmodelElementList(
            "Prices",
            model.SubmodelElementCollection,
            prices,
            semantic_id=_ref(_ours("Capacity", "prices")),
            semantic_id_list_element=_ref(_ours("Capacity", "price")),
        ),
        model.SubmodelElementList(
            "Capacities",
            model.SubmodelElementCollection,
            capacities,
            semantic_id=_ref(_ours("Capacity", "capacities")),
            semantic_id_list_element=_ref(_ours("Capacity", "capacity")),
        ),
    ]
    if profile.capacity.updatedAt is not None:
        elements.insert(
            1,
            _prop(
                "UpdatedAt",
                model.datatypes.DateTime,
                profile.capacity.updatedAt.astimezone(UTC),
                _ours("Capacity", "updatedAt"),
            ),
        )
    return model.Submodel(
        id_, id_short="Capacity", semantic_id=_ref(CAPACITY), submodel_element=elements
    )


def _standing(profile: FactoryProfile, id_: str) -> model.Submodel:
    elements = [
        _prop("Status", str, profile.status, _ours("MarketplaceStanding", "status")),
    ]
    if profile.statusReason:
        elements.append(
            _prop(
                "StatusReason",
                str,
                profile.statusReason,
                _ours("MarketplaceStanding", "statusReason"),
            )
        )
    if profile.credit is not None:
        elements.append(
            _prop(
                "CreditScore",
                model.datatypes.Double,
                profile.credit.score,
                _ours("MarketplaceStanding", "credit.score"),
            )
        )
    return model.Submodel(
        id_, id_short="MarketplaceStanding", semantic_id=_ref(STANDING), submodel_element=elements
    )


# Files ---------------------------------------------------------------------------------


def write(profile: FactoryProfile, fmt: str) -> bytes:
    """The profile as an AAS environment file: `aas-json` or `aas-xml`."""
    store = profile_to_store(profile)
    if fmt == "aas-json":
        buffer = io.StringIO()
        aas_json.write_aas_json_file(buffer, store, indent=2)
        return buffer.getvalue().encode()
    if fmt == "aas-xml":
        binary = io.BytesIO()
        aas_xml.write_aas_xml_file(binary, store)
        return binary.getvalue()
    raise FactoryError("format", N_("must be one of %(choices)s", choices=", ".join(FORMATS)))


def read(data: bytes, fmt: str) -> FactoryProfile:
    """Parse an AAS environment file with BaSyx's own deserializers, strictly."""
    try:
        if fmt == "aas-json":
            store = aas_json.read_aas_json_file(io.StringIO(data.decode("utf-8")), failsafe=False)
        elif fmt == "aas-xml":
            if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
                raise FactoryError("file", N_("document type declarations are not accepted"))
            store = aas_xml.read_aas_xml_file(
                io.BytesIO(data),
                failsafe=False,
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
            )
        else:
            raise FactoryError(
                "format", N_("must be one of %(choices)s", choices=", ".join(FORMATS))
            )
    except FactoryError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FactoryError(
            "file",
            N_("not a valid AAS environment (%(format)s): %(error)s", format=fmt, error=error),
        ) from error
    except Exception as error:  # lxml and BaSyx raise their own kinds for broken input
        raise FactoryError(
            "file",
            N_("not a valid AAS environment (%(format)s): %(error)s", format=fmt, error=error),
        ) from error
    return store_to_profile(store)


# Reading -------------------------------------------------------------------------------


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
            if isinstance(obj, model.Submodel) and _semantic(obj) == semantic
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


def _semantic(element: Any) -> str | None:
    reference = element.semantic_id
    if reference is None or not reference.key:
        return None
    return reference.key[0].value


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

    try:
        profile = FactoryProfile(
            factoryId=factory_id,
            name=name,
            status=status,
            statusReason=reason,
            location=Location(**location),
            certifications=[CertificationEntry(**c) for c in certifications],
            capabilities=capabilities,
            capacity=CapacityBlock(
                unitOfMeasure=reader.value(capacity, "UnitOfMeasure", "Capacity"),
                updatedAt=reader.value(capacity, "UpdatedAt", "Capacity", False),
                capacities=[CapacityEntry(**c) for c in capacities],
            ),
            credit=Credit(**credit) if credit is not None else None,
        )
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise FactoryError(
            ".".join(str(p) for p in first["loc"]) or "file", first["msg"]
        ) from error
    return canonical(profile)


def _read_capabilities(reader: _Reader, prices: dict[str, dict[str, Any]]) -> list[CapabilityEntry]:
    description = reader.submodel(CAPABILITY_DESCRIPTION, "CapabilityDescription")
    capability_set = reader.child(description, "CapabilitySet", "CapabilityDescription")
    entries = []
    for container in capability_set.value:
        if _semantic(container) != _cap("CapabilityContainer"):
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
                            if key.value.startswith(f"{OURS}:submodel:Capability:1:0#")
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


def profile_as_dict(profile: FactoryProfile) -> dict[str, Any]:
    return profile.model_dump(mode="json")


__all__ = ["FORMATS", "detect_format", "profile_to_store", "read", "store_to_profile", "write"]
