"""The shell's vocabulary: the semantic ids of the IDTA submodel templates we fill and
of our own concepts, and small builders of the elements both directions use.

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

The score's breakdown and the machines' live status are the marketplace's view at the
moment of export, not part of what a shell exchanges: the JSON profile carries them,
the shell does not (`carried_by_shell`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from basyx.aas import model

from factories.errors import N_, FactoryError
from factories.profile.schema import Credit, FactoryProfile

FORMATS = ("aas-json", "aas-xml")


def check_format(fmt: str) -> None:
    """A FactoryError at `format` unless `fmt` is one of FORMATS."""
    if fmt not in FORMATS:
        raise FactoryError("format", N_("must be one of %(choices)s", choices=", ".join(FORMATS)))


def carried_by_shell(profile: FactoryProfile) -> FactoryProfile:
    """What of a profile a shell holds: everything but the credit's breakdown and the
    live status of the machines."""
    credit = None if profile.credit is None else Credit(score=profile.credit.score)
    return profile.model_copy(update={"credit": credit, "liveStatus": None})


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


def cd_iri(name: str) -> str:
    """The semantic id of an element of the Company Data template."""
    return f"https://admin-shell.io/idta/CompanyData/{name}/1/0"


# IDTA 02020 Capability Description.
CAPABILITY_DESCRIPTION = "https://admin-shell.io/idta/SubmodelTemplate/CapabilityDescription/1/0"


def cap_iri(element: str) -> str:
    """The semantic id of an element of the Capability Description template."""
    return f"https://admin-shell.io/idta/CapabilityDescription/{element}/1/0"


CAP_PROPERTY_RANGE = "https://admin-shell.io/idta/CapabilityPropertyEnumType/Range/1/0"
CAP_PROPERTY_PROPERTY = "https://admin-shell.io/idta/CapabilityPropertyType/Property/1/0"
CAP_PROPERTY_LIST = "https://admin-shell.io/idta/CapabilityPropertyType/SubmodelElementList/1/0"
CAP_BASIC_CONSTRAINT = cap_iri("PropertyConstraintType/BasicConstraint")

# Ours.
OURS = "urn:factoryweb:aas"
CAPACITY = f"{OURS}:submodel:Capacity:1:0"
STANDING = f"{OURS}:submodel:MarketplaceStanding:1:0"
LATITUDE = f"{OURS}:concept:Latitude:1:0"
LONGITUDE = f"{OURS}:concept:Longitude:1:0"
PROCESS_PREFIX = "urn:factoryweb:process:"


def our_iri(submodel: str, element: str) -> str:
    """The semantic id of one of our elements, where no template has one."""
    return f"{OURS}:submodel:{submodel}:1:0#{element}"


# Elements ------------------------------------------------------------------------------


def ref(iri: str) -> model.ExternalReference:
    """A reference to a concept by its IRI or IRDI (a semantic id)."""
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def lang_text(values: dict[str, str]) -> model.MultiLanguageTextType:
    return model.MultiLanguageTextType({lang: text for lang, text in values.items() if text})


def prop(id_short: str | None, value_type: type, value: Any, semantic: str) -> model.Property:
    return model.Property(id_short, value_type, value, semantic_id=ref(semantic))


def mlp(id_short: str, values: dict[str, str], semantic: str) -> model.MultiLanguageProperty:
    """A MultiLanguageProperty: `values` by language code."""
    return model.MultiLanguageProperty(id_short, lang_text(values), semantic_id=ref(semantic))


def smc(
    id_short: str | None, semantic: str, value: Iterable[model.SubmodelElement] = ()
) -> model.SubmodelElementCollection:
    """A SubmodelElementCollection."""
    return model.SubmodelElementCollection(id_short, value, semantic_id=ref(semantic))


def xs_date(day: date) -> model.datatypes.Date:
    return model.datatypes.Date(day.year, day.month, day.day)


def id_short_of(property_id: str) -> str:
    """`workpieceLength` -> `WorkpieceLength`: a profile name as an idShort."""
    return property_id[0].upper() + property_id[1:]


def semantic_of(element: Any) -> str | None:
    """The first key of an element's semantic id, if it has one."""
    reference = element.semantic_id
    if reference is None or not reference.key:
        return None
    return reference.key[0].value
