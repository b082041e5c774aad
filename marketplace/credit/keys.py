"""The platform's Ed25519 key that signs credit reports: `CREDIT_SIGNING_KEY` (base64 of
the 32-byte private key; production refuses to start without it, marketplace/config.py),
or in development a key generated once into the instance folder. Its public half is
published at GET /api/v1/credit/public-key (docs/credit.md)."""

from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app

from factories.credit.report import SigningKeyError, private_key_from
from marketplace import config
from marketplace.config import ConfigurationError, Settings

EXTENSION_KEY = "factoryweb.credit_key"
KEY_FILE = "credit_signing_key"


def development_key_text() -> str:
    key_file = config.INSTANCE_DIR / KEY_FILE
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        config.INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        text = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        key_file.write_text(text + "\n")
        key_file.chmod(0o600)
        return text


def signing_key_for(settings: Settings) -> Ed25519PrivateKey:
    text = settings.credit_signing_key
    if not text:
        if settings.production:
            raise ConfigurationError(
                "CREDIT_SIGNING_KEY must be set when FACTORYWEB_ENV=production"
            )
        text = development_key_text()
    try:
        return private_key_from(text)
    except SigningKeyError as error:
        raise ConfigurationError(f"CREDIT_SIGNING_KEY: {error}") from error


def signing_key() -> Ed25519PrivateKey:
    """The application's key (read once)."""
    key = current_app.extensions.get(EXTENSION_KEY)
    if key is None:
        key = signing_key_for(current_app.config["FACTORYWEB_SETTINGS"])
        current_app.extensions[EXTENSION_KEY] = key
    return key
