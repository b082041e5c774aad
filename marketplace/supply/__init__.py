"""The factory side on the web, in the API and on the command line.

Business rules live in `factories/`; this package parses, authorizes, calls the
services and renders. It is divided into rooms, each with the same files (`views.py`
pages, `api.py` REST under /api/v1, `forms.py` where it has forms):

- `registration/`    registering a factory, the factory page, its details
- `certifications/`  a factory's certifications
- `capabilities/`    what it can make: process, materials, envelope, tolerance, rate
- `capacity/`        the capacity calendar, in Catena-X DCM names in the API
- `formats/`         standard formats: profile JSON and AAS, export and import
- `search/`          the buyers' search
- `verification/`    the cluster operators' review: verify, suspend

Shared by the rooms: `blueprints.py` (one blueprint for the pages, one for the API),
`access.py` (who may see and change a factory), `presenters.py` (how a factory, a
certification, a capability and a capacity grid are shown, for pages and API alike),
`schemas.py` (the API models several rooms answer with), `forms.py` (taxonomy choices),
`texts.py` (the area's own words), `clock.py`; `setup.py` puts it into the application,
`cli.py` is `factoryweb factory export|import`.
"""
