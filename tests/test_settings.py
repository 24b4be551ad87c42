"""Settings: one validated object from the environment, .env and overrides."""

from pathlib import Path

import pytest

from dockerhub_export.errors import ConfigError
from dockerhub_export.settings import Settings, parse_snapshot_date, validate_org


@pytest.mark.parametrize("org", ["acme", "my-org", "a1", "big_co", "docker.io-mirror", "x" * 255])
def test_valid_namespaces_are_accepted(org: str) -> None:
    assert validate_org(org) == org


@pytest.mark.parametrize(
    "org", ["../x", "a/b", "my org", "Acme", "-acme", "acme-", "a", "", "a..b", "x" * 256, "acme\n", "%2e%2e"]
)
def test_malformed_namespaces_are_refused_with_one_line(org: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_org(org)
    message = str(info.value)
    assert "invalid organization name" in message and "\n" not in message


def test_environment_and_dotenv_feed_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DOCKERHUB_ORG=fromfile\nDOCKERHUB_TOKEN=file-token\nEXPORT_DIR=/data/out\n")
    monkeypatch.setenv("DOCKERHUB_CONCURRENCY", "8")
    settings = Settings.load(env_file)
    assert (settings.org, settings.concurrency, settings.export_dir) == ("fromfile", 8, Path("/data/out"))
    assert settings.require_token().get_secret_value() == "file-token"


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKERHUB_ORG", "fromenv")
    assert Settings.load(None, org="fromflag").org == "fromflag"
    assert Settings.load(None, org=None).org == "fromenv"  # None means "not given"


def test_token_never_shows_in_repr_or_str() -> None:
    settings = Settings.load(None, org="acme", token="super-secret-token")
    assert "super-secret-token" not in repr(settings) and "super-secret-token" not in str(settings)


def test_missing_token_and_org_say_what_to_set() -> None:
    settings = Settings.load(None)
    with pytest.raises(ConfigError, match="DOCKERHUB_TOKEN is not set"):
        settings.require_token()
    with pytest.raises(ConfigError, match="--org ORG or set DOCKERHUB_ORG"):
        settings.require_org()


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"concurrency": 0}, "--concurrency"),
        ({"concurrency": 17}, "--concurrency"),
        ({"api_url": "ftp://hub"}, "DOCKERHUB_API_URL"),
        ({"api_url": "https://user:pw@hub.docker.com"}, "must not carry credentials"),
        ({"org": "a/b"}, "--org / DOCKERHUB_ORG"),
    ],
)
def test_bad_settings_give_one_line_naming_the_setting(overrides: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(None, **overrides)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert "pw" not in str(info.value)


def test_pat_logs_in_as_the_username_and_oat_as_the_org() -> None:
    assert Settings.load(None, org="acme", username="alice").identifier == "alice"
    assert Settings.load(None, org="acme").identifier == "acme"


def test_snapshot_date_parses_iso_dates_and_refuses_others() -> None:
    assert parse_snapshot_date("2026-01-31").isoformat() == "2026-01-31"
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        parse_snapshot_date("31/01/2026")
