"""The standardized factory profile (docs/factory-profile.md): export and import.

- `schema`: the pydantic models, from which the published JSON Schema is generated,
  and the canonical order of a profile;
- `writer`: a factory as a profile (export);
- `details`: a profile's parts as the services' inputs, problems named in its terms;
- `reader`: a profile into a factory (import and restore).
"""
