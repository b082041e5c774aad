"""Configuration from the environment: the same code runs the demo and production."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("FACTORYWEB_INSTANCE", Path.cwd() / "instance"))


class ConfigurationError(RuntimeError):
    pass


def normalize_database_url(url: str) -> str:
    """Accept the usual `postgresql://` form and pick the psycopg 3 driver for it."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    secret_key: str
    celery_broker_url: str | None
    stripe_api_key: str | None
    stripe_api_base: str | None
    stripe_webhook_secret: str | None
    # Ed25519 key that signs credit reports (base64 of the 32-byte private key); None in
    # development and tests: a key kept in the instance folder (marketplace/credit/keys.py).
    credit_signing_key: str | None = None

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_environ(cls, environ: os._Environ[str] | dict[str, str] = os.environ) -> Settings:
        env = environ.get("FACTORYWEB_ENV", "development")
        secret_key = environ.get("SECRET_KEY")
        if not secret_key:
            if env == "production":
                raise ConfigurationError("SECRET_KEY must be set when FACTORYWEB_ENV=production")
            secret_key = _development_secret_key()
        credit_signing_key = environ.get("CREDIT_SIGNING_KEY") or None
        if not credit_signing_key and env == "production":
            raise ConfigurationError(
                "CREDIT_SIGNING_KEY must be set when FACTORYWEB_ENV=production"
            )
        database_url = environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'factoryweb.db'}"
        return cls(
            env=env,
            database_url=normalize_database_url(database_url),
            secret_key=secret_key,
            celery_broker_url=environ.get("CELERY_BROKER_URL") or None,
            stripe_api_key=environ.get("STRIPE_API_KEY") or None,
            stripe_api_base=environ.get("STRIPE_API_BASE") or None,
            stripe_webhook_secret=environ.get("STRIPE_WEBHOOK_SECRET") or None,
            credit_signing_key=credit_signing_key,
        )


def _development_secret_key() -> str:
    """A key kept in the instance folder, so development sessions survive a restart."""
    key_file = INSTANCE_DIR / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key
