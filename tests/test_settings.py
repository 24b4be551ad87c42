"""Settings: one validated object from the environment, .env and overrides."""

import os
import subprocess
import sys
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


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command line in ``cwd`` (where it reads .env), nothing from the developer's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKERHUB_", "PREFECT_API_URL"))}
    env["PREFECT_HOME"] = str(cwd / "prefect-home")
    command = [sys.executable, "-m", "dockerhub_export", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.count("\n") == 1, result.stderr  # no python-dotenv warning before it
    assert result.stderr.startswith("error: ")
    return result.stderr.strip()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_dotenv_saved_as_utf16_is_one_line_naming_the_file_not_a_traceback(
    tmp_path: Path, encoding: str
) -> None:
    """Notepad's "Unicode" is UTF-16 with a BOM; utf-16-le has none, so a NUL byte tells."""
    (tmp_path / ".env").write_bytes("DOCKERHUB_ORG=acme\nDOCKERHUB_TOKEN=s3cret\n".encode(encoding))
    line = _one_error_line(_cli(["run", "--output-dir", str(tmp_path / "out")], tmp_path))
    assert str(tmp_path / ".env") in line and "save it as UTF-8" in line
    assert not (tmp_path / "out").exists()


def test_a_dotenv_with_bytes_that_are_not_utf8_names_the_file_and_the_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"DOCKERHUB_ORG=acme\n# caf\xe9 (latin-1)\nDOCKERHUB_TOKEN=t\n")
    line = _one_error_line(_cli(["run"], tmp_path))
    assert f"{tmp_path / '.env'} line 2: not UTF-8 text" in line


def test_a_dotenv_line_python_dotenv_cannot_parse_names_the_file_and_line_and_hides_the_line(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text("DOCKERHUB_ORG=acme\n\nDOCKERHUB_TOKEN: s3cret-token\n")
    line = _one_error_line(_cli(["run"], tmp_path))
    assert f"{tmp_path / '.env'} line 3: python-dotenv cannot parse it: write NAME=value" in line
    assert "DOCKERHUB_TOKEN is not set" not in line and "s3cret" not in line


def test_a_dotenv_saved_as_utf8_with_a_bom_is_read_like_without(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"\xef\xbb\xbfDOCKERHUB_TOKEN=bom-token\nDOCKERHUB_ORG=acme\n")
    settings = Settings.load(env_file)
    assert settings.require_token().get_secret_value() == "bom-token" and settings.org == "acme"


def test_a_missing_dotenv_is_no_error(tmp_path: Path) -> None:
    assert Settings.load(tmp_path / ".env", org="acme").org == "acme"
