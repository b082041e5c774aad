"""The REST API's common ground: one error shape and its handlers (`errors`), the type
of a view's answer (`answers`), and the API's own endpoints (`system`). Each area adds
its API blueprint under /api/v1; the OpenAPI 3 document is generated from their pydantic
models. Conventions: docs/api.md."""
