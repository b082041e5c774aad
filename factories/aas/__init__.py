"""A factory as an Asset Administration Shell (Eclipse BaSyx Python SDK), and back.

- `schema`: the semantic ids and IRIs of the submodels, and small element builders;
- `writer`: profile -> shell -> AAS JSON or XML file;
- `reader`: AAS JSON or XML file -> shell -> profile.

The conversion goes through the profile: profile -> shell -> profile is exact, so
export and import of the shell are as lossless as the profile's.
"""
