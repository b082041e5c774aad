"""A factory's profile as a file in one of the standard formats, and back: the profile
JSON of specs/factory-profile-v1.md, and the Asset Administration Shell as JSON or XML.
Shared by the pages, the API and the command line."""

from __future__ import annotations

from pydantic import ValidationError

from factories.aas import reader as aas_reader
from factories.aas import writer as aas_writer
from factories.errors import FactoryError
from factories.profile.schema import FactoryProfile

# Format -> (media type, file name suffix) of a download.
EXPORTS = {
    "profile-json": ("application/json", "profile.json"),
    "aas-json": ("application/json", "aas.json"),
    "aas-xml": ("application/xml", "aas.xml"),
}


def profile_file(profile: FactoryProfile, fmt: str) -> bytes:
    """The profile in one of the EXPORTS formats."""
    if fmt == "profile-json":
        return profile.model_dump_json(indent=2).encode()
    return aas_writer.write(profile, fmt)


def read_profile_file(data: bytes, filename: str = "") -> FactoryProfile:
    """A profile from any of our three formats; FactoryError naming the fault otherwise."""
    fmt = aas_reader.detect_format(data, filename)
    if fmt != "profile-json":
        return aas_reader.read(data, fmt)
    try:
        return FactoryProfile.model_validate_json(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "file"
        raise FactoryError(field, first["msg"]) from error
