"""A factory profile as an Asset Administration Shell and its files (AAS JSON or XML).

The shell's submodels and their semantic ids are described in factories.aas.schema.
"""

from __future__ import annotations

import io
from datetime import UTC
from decimal import Decimal
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import json as aas_json
from basyx.aas.adapter import xml as aas_xml

from factories.aas.schema import (
    CAP_BASIC_CONSTRAINT,
    CAP_PROPERTY_LIST,
    CAP_PROPERTY_PROPERTY,
    CAP_PROPERTY_RANGE,
    CAPABILITY_DESCRIPTION,
    CAPACITY,
    COMPANY_DATA,
    LATITUDE,
    LONGITUDE,
    NAMEPLATE,
    NP_ADDRESS,
    NP_CITY,
    NP_COUNTRY,
    NP_FACILITY,
    NP_MANUFACTURER_NAME,
    NP_PRODUCT_DESIGNATION,
    NP_STATE,
    NP_URI_OF_PRODUCT,
    PROCESS_PREFIX,
    STANDING,
    cap_iri,
    cd_iri,
    check_format,
    id_short_of,
    lang_text,
    mlp,
    our_iri,
    prop,
    ref,
    smc,
    xs_date,
)
from factories.profile.schema import FactoryProfile


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
        description=lang_text({"en": profile.name}),
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
        mlp("StateCounty", {"en": location.region}, NP_STATE),
        mlp("NationalCode", {"en": location.country}, NP_COUNTRY),
        prop("Latitude", model.datatypes.Double, location.latitude, LATITUDE),
        prop("Longitude", model.datatypes.Double, location.longitude, LONGITUDE),
    ]
    if location.city:
        address.insert(0, mlp("CityTown", {"en": location.city}, NP_CITY))
    return model.Submodel(
        id_,
        id_short="Nameplate",
        semantic_id=ref(NAMEPLATE),
        submodel_element=[
            prop("URIOfTheProduct", model.datatypes.AnyURI, profile.factoryId, NP_URI_OF_PRODUCT),
            mlp("ManufacturerName", {"en": profile.name}, NP_MANUFACTURER_NAME),
            mlp(
                "ManufacturerProductDesignation",
                {"en": "Manufacturing capacity", "zh": "制造产能"},
                NP_PRODUCT_DESIGNATION,
            ),
            smc("AddressInformation", NP_ADDRESS, address),
            prop(
                "UniqueFacilityIdentifier", model.datatypes.String, profile.factoryId, NP_FACILITY
            ),
        ],
    )


def _company_data(profile: FactoryProfile, id_: str) -> model.Submodel:
    certificates = []
    for entry in profile.certifications:
        elements = [
            prop(
                "CertificationStandard", str, entry.certificateType, cd_iri("CertificationStandard")
            ),
            prop("ApprovalAgency", str, entry.issuer, cd_iri("ApprovalAgency")),
            prop("CertificateNumber", str, entry.registrationNumber, cd_iri("CertificateNumber")),
            prop("IssueDate", model.datatypes.Date, xs_date(entry.validFrom), cd_iri("IssueDate")),
            prop(
                "ExpiryDate", model.datatypes.Date, xs_date(entry.validUntil), cd_iri("ExpiryDate")
            ),
        ]
        if entry.certificateVersion:
            elements.append(
                prop(
                    "CertificateVersion",
                    str,
                    entry.certificateVersion,
                    our_iri("CompanyData", "CertificateVersion"),
                )
            )
        certificates.append(smc(None, cd_iri("Certification"), elements))
    certifications = model.SubmodelElementList(
        "Certifications",
        model.SubmodelElementCollection,
        certificates,
        semantic_id=ref(cd_iri("Certifications")),
        semantic_id_list_element=ref(cd_iri("Certification")),
    )
    return model.Submodel(
        id_,
        id_short="CompanyData",
        semantic_id=ref(COMPANY_DATA),
        submodel_element=[
            smc(
                "CompanyIdentification",
                cd_iri("CompanyIdentification"),
                [prop("CompanyName", str, profile.name, cd_iri("CompanyName"))],
            ),
            smc(
                "CompanyGovernance",
                cd_iri("CompanyGovernance"),
                [smc("IndustryStandards", cd_iri("IndustryStandards"), [certifications])],
            ),
        ],
    )


def _range(concept: str, minimum: int | None, maximum: int) -> model.Range:
    """A property (part envelope) or constraint (batch size) of a capability as a range."""
    return model.Range(
        id_short_of(concept),
        int,
        min=minimum,
        max=maximum,
        semantic_id=ref(CAP_PROPERTY_RANGE),
        supplemental_semantic_id=[ref(our_iri("Capability", concept))],
    )


def _range_container(
    concept: str, element: model.Range, unit: str
) -> model.SubmodelElementCollection:
    return smc(
        f"PropertyContainer_{concept}",
        cap_iri("PropertyContainer"),
        [element, mlp("PropertyComment", {"en": unit}, cap_iri("PropertyComment"))],
    )


def _capability_description(profile: FactoryProfile, id_: str) -> model.Submodel:
    capability_set = smc("CapabilitySet", cap_iri("CapabilitySet"))
    submodel = model.Submodel(
        id_,
        id_short="CapabilityDescription",
        semantic_id=ref(CAPABILITY_DESCRIPTION),
        submodel_element=[capability_set],
    )
    for entry in profile.capabilities:
        supplemental = [ref(PROCESS_PREFIX + entry.capabilityId)]
        if entry.processClass:
            supplemental.append(ref(entry.processClass))
        capability = model.Capability(
            entry.capabilityId,
            semantic_id=ref(cap_iri("Capability")),
            supplemental_semantic_id=supplemental,
        )
        containers = [
            _range_container(p.propertyId, _range(p.propertyId, p.minValue, p.maxValue), p.unit)
            for p in entry.properties
        ]
        materials = model.SubmodelElementList(
            "Materials",
            model.Property,
            [
                model.Property(None, str, m.materialFamily, semantic_id=ref(CAP_PROPERTY_PROPERTY))
                for m in entry.materials
            ],
            semantic_id=ref(CAP_PROPERTY_LIST),
            semantic_id_list_element=ref(CAP_PROPERTY_PROPERTY),
            value_type_list_element=str,
        )
        containers.append(
            smc("PropertyContainer_materials", cap_iri("PropertyContainer"), [materials])
        )
        containers.append(
            smc(
                "PropertyContainer_generalTolerance",
                cap_iri("PropertyContainer"),
                [prop("GeneralTolerance", str, entry.generalTolerance, CAP_PROPERTY_PROPERTY)],
            )
        )
        ranges_of_constraints = []
        for constraint in entry.constraints:
            element = _range(constraint.constraintId, constraint.minValue, constraint.maxValue)
            ranges_of_constraints.append((constraint, element))
            containers.append(_range_container(constraint.constraintId, element, constraint.unit))
        generalized = smc("GeneralizedBySet", cap_iri("GeneralizedBySet"))
        constraint_set = smc("ConstraintSet", cap_iri("ConstraintSet"))
        relations = smc("CapabilityRelations", cap_iri("CapabilityRelations"))
        container = smc(
            f"CapabilityContainer_{entry.capabilityId}",
            cap_iri("CapabilityContainer"),
            [
                capability,
                mlp("CapabilityComment", entry.capabilityLabel, cap_iri("CapabilityComment")),
                smc("PropertySet", cap_iri("PropertySet"), containers),
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
                    second=ref(PROCESS_PREFIX + general),
                    semantic_id=ref(cap_iri("CapabilityGeneralizedBy")),
                )
            )
        relations.value.add(generalized)
        relations.value.add(constraint_set)
        for constraint, range_element in ranges_of_constraints:
            holder = smc(
                f"PropertyConstraintContainer_{constraint.constraintId}",
                cap_iri("PropertyConstraintContainer"),
                [
                    prop(
                        "BasicConstraint",
                        str,
                        f"{constraint.minValue} <= {id_short_of(constraint.constraintId)} "
                        f"<= {constraint.maxValue}",
                        CAP_BASIC_CONSTRAINT,
                    ),
                    prop("ConstraintType", str, "BasicConstraint", cap_iri("ConstraintType")),
                    prop(
                        "PropertyConditionalType",
                        str,
                        "Precondition",
                        cap_iri("PropertyConditionalType"),
                    ),
                ],
            )
            constraint_set.value.add(holder)
            holder.value.add(
                smc(
                    "ConstraintPropertyRelations",
                    cap_iri("ConstraintPropertyRelations"),
                    [
                        model.RelationshipElement(
                            "ConstraintHasProperty",
                            first=model.ModelReference.from_referable(holder),
                            second=model.ModelReference.from_referable(range_element),
                            semantic_id=ref(cap_iri("ConstraintHasProperty")),
                        )
                    ],
                )
            )
    return submodel


def _capacity(profile: FactoryProfile, id_: str) -> model.Submodel:
    def our(id_short: str, value_type: type, value: Any, concept: str) -> model.Property:
        return prop(id_short, value_type, value, our_iri("Capacity", concept))

    def item(elements: list[model.SubmodelElement], name: str) -> model.SubmodelElementCollection:
        return smc(None, our_iri("Capacity", name), elements)

    prices = [
        item(
            [
                our("CapabilityId", str, entry.capabilityId, "capabilityId"),
                our("Value", Decimal, entry.price.value, "price.value"),
                our("Currency", str, entry.price.currency, "price.currency"),
                our("UnitForPrice", str, entry.price.unitForPrice, "price.unitForPrice"),
            ],
            "price",
        )
        for entry in profile.capabilities
    ]
    capacities = [
        item(
            [
                our("CapabilityId", str, c.capabilityId, "capabilityId"),
                our("PointInTime", model.datatypes.Date, xs_date(c.pointInTime), "pointInTime"),
                our("ActualCapacity", Decimal, c.actualCapacity, "actualCapacity"),
                our("MaximumCapacity", Decimal, c.maximumCapacity, "maximumCapacity"),
                our("BookedCapacity", Decimal, c.bookedCapacity, "bookedCapacity"),
            ],
            "capacity",
        )
        for c in profile.capacity.capacities
    ]
    elements: list[model.SubmodelElement] = [
        our("UnitOfMeasure", str, profile.capacity.unitOfMeasure, "unitOfMeasure"),
        model.SubmodelElementList(
            "Prices",
            model.SubmodelElementCollection,
            prices,
            semantic_id=ref(our_iri("Capacity", "prices")),
            semantic_id_list_element=ref(our_iri("Capacity", "price")),
        ),
        model.SubmodelElementList(
            "Capacities",
            model.SubmodelElementCollection,
            capacities,
            semantic_id=ref(our_iri("Capacity", "capacities")),
            semantic_id_list_element=ref(our_iri("Capacity", "capacity")),
        ),
    ]
    if profile.capacity.updatedAt is not None:
        updated_at = profile.capacity.updatedAt.astimezone(UTC)
        elements.insert(1, our("UpdatedAt", model.datatypes.DateTime, updated_at, "updatedAt"))
    return model.Submodel(
        id_, id_short="Capacity", semantic_id=ref(CAPACITY), submodel_element=elements
    )


def _standing(profile: FactoryProfile, id_: str) -> model.Submodel:
    elements = [
        prop("Status", str, profile.status, our_iri("MarketplaceStanding", "status")),
    ]
    if profile.statusReason:
        elements.append(
            prop(
                "StatusReason",
                str,
                profile.statusReason,
                our_iri("MarketplaceStanding", "statusReason"),
            )
        )
    if profile.credit is not None:
        elements.append(
            prop(
                "CreditScore",
                model.datatypes.Double,
                profile.credit.score,
                our_iri("MarketplaceStanding", "credit.score"),
            )
        )
    return model.Submodel(
        id_, id_short="MarketplaceStanding", semantic_id=ref(STANDING), submodel_element=elements
    )


def write(profile: FactoryProfile, fmt: str) -> bytes:
    """The profile as an AAS environment file: `aas-json` or `aas-xml`."""
    check_format(fmt)
    store = profile_to_store(profile)
    if fmt == "aas-json":
        buffer = io.StringIO()
        aas_json.write_aas_json_file(buffer, store, indent=2)
        return buffer.getvalue().encode()
    binary = io.BytesIO()
    aas_xml.write_aas_xml_file(binary, store)
    return binary.getvalue()
