import pytest

from marketplace.config import ConfigurationError, Settings, normalize_database_url


def test_production_requires_a_secret_key():
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        Settings.from_environ({"FACTORYWEB_ENV": "production"})


def test_production_uses_the_given_secret_key():
    settings = Settings.from_environ(
        {"FACTORYWEB_ENV": "production", "SECRET_KEY": "s3cret", "CREDIT_SIGNING_KEY": "k"}
    )
    assert settings.production
    assert settings.secret_key == "s3cret"


def test_production_requires_a_credit_signing_key():
    with pytest.raises(ConfigurationError, match="CREDIT_SIGNING_KEY"):
        Settings.from_environ({"FACTORYWEB_ENV": "production", "SECRET_KEY": "s3cret"})


def test_development_generates_and_keeps_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.setattr("marketplace.config.INSTANCE_DIR", tmp_path)
    first = Settings.from_environ({})
    second = Settings.from_environ({})
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_default_database_is_a_sqlite_file_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("marketplace.config.INSTANCE_DIR", tmp_path)
    assert Settings.from_environ({}).database_url == f"sqlite:///{tmp_path / 'factoryweb.db'}"


def test_optional_services_come_from_the_environment():
    settings = Settings.from_environ(
        {
            "SECRET_KEY": "k",
            "DATABASE_URL": "postgres://u@db/fw",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "STRIPE_API_KEY": "sk_test_x",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u@db/fw"
    assert settings.celery_broker_url == "redis://127.0.0.1:6379/0"
    assert settings.stripe_api_key == "sk_test_x"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://postgres@127.0.0.1/x", "postgresql+psycopg://postgres@127.0.0.1/x"),
        ("postgres://a@b/c", "postgresql+psycopg://a@b/c"),
        ("postgresql+psycopg://a@b/c", "postgresql+psycopg://a@b/c"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_are_normalized_to_psycopg(given, expected):
    assert normalize_database_url(given) == expected
