"""A factory's certifications: add and remove them (ISO 9001, IATF 16949, ...)."""
