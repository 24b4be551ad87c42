"""The one settings object: environment, ``.env`` and command-line overrides, validated once.

Built at the edge (CLI or flow) and passed down; nothing below reads ``os.environ``.
"""

import codecs
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError
from .run_options import DEFAULT_CONCURRENCY, MAX_CONCURRENCY

# Docker Hub namespaces follow the registry's path-component grammar (lowercase alphanumerics with
# single separators); checking it before any request keeps "../x", spaces and slashes out of URLs.
_NAMESPACE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
MAX_PAGE_SIZE = 100


def validate_org(org: str) -> str:
    """Return ``org`` if it is a valid Docker Hub namespace, else raise `ConfigError`."""
    if not is_valid_org(org):
        shown = org if len(org) <= 60 and org.isprintable() else repr(org[:60])
        raise ConfigError(
            f"invalid organization name {shown!r}: use the Docker Hub namespace as it appears in "
            "hub.docker.com/u/<org> (lowercase letters, digits, and single '.', '_' or '-' between them)"
        )
    return org


def is_valid_org(org: str) -> bool:
    """Whether ``org`` is a valid namespace (`validate_org` without the error): safe to show or to key by."""
    return 2 <= len(org) <= 255 and _NAMESPACE.fullmatch(org) is not None


def today_utc() -> date:
    return datetime.now(UTC).date()


def parse_date(value: str | date, what: str = "snapshot date") -> date:
    """``value`` (YYYY-MM-DD) as a date, any day (`parse_snapshot_date` also refuses future ones)."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"invalid {what} {value!r}: use YYYY-MM-DD, e.g. 2026-01-31") from None


def future_problem(day: date) -> str | None:
    """Why ``day`` cannot be a snapshot date, if it is after today (UTC): a night cannot be known before
    it happens, and a future tag night would block every real one until the calendar caught up (tag
    history runs forward). Shared by ``run``, the flows and ``backfill``."""
    today = today_utc()
    if day <= today:
        return None
    return f"snapshot date {day.isoformat()} is in the future (today is {today.isoformat()} in UTC)"


def parse_snapshot_date(value: str | date | None) -> date:
    """The snapshot date: ``value`` (YYYY-MM-DD, not after today in UTC) or today in UTC."""
    if value is None:
        return today_utc()
    day = parse_date(value)
    problem = future_problem(day)
    if problem:
        raise ConfigError(f"{problem}: give today's date or an earlier one, or none for today")
    return day


_SAVE_AS_UTF8 = "save it as UTF-8 (in Notepad: Save as, Encoding: UTF-8)"


def check_env_file(path: Path) -> None:
    """Raise `ConfigError` naming ``path`` (and the line) if it is not UTF-8 or python-dotenv cannot
    parse a line: unchecked, the first is a traceback and the second a warning without the file's name,
    then a misleading "not set" error for the settings the file was meant to give."""
    path = path.absolute()  # a scheduled job's working directory is not obvious
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return  # .env is optional
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ConfigError(f"{path} is UTF-16 or UTF-32 text, not UTF-8: {_SAVE_AS_UTF8}")
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: a NUL byte (UTF-16 text?), not UTF-8: {_SAVE_AS_UTF8}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: not UTF-8 text: {_SAVE_AS_UTF8}") from None
    from dotenv.parser import parse_stream

    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            # python-dotenv counts from the blank lines before the statement. The line itself is not
            # shown: it may hold the token.
            statement = binding.original.string
            line = binding.original.line + statement[: len(statement) - len(statement.lstrip())].count("\n")
            raise ConfigError(
                f"{path} line {line}: python-dotenv cannot parse it: write NAME=value, "
                "one a line (quote values with spaces or #; a quote opened must be closed)"
            )


# How the user spells each setting, for error messages.
_WHERE = {
    "org": "--org / DOCKERHUB_ORG",
    "token": "DOCKERHUB_TOKEN",
    "username": "DOCKERHUB_USERNAME",
    "api_url": "DOCKERHUB_API_URL",
    "export_dir": "--output-dir / EXPORT_DIR",
    "snapshot_database_url": "--database-url / SNAPSHOT_DATABASE_URL",
    "concurrency": "--concurrency / DOCKERHUB_CONCURRENCY",
    "timeout": "DOCKERHUB_TIMEOUT",
    "max_attempts": "DOCKERHUB_MAX_ATTEMPTS",
    "csv_safe": "DOCKERHUB_CSV_SAFE",
}


class Settings(BaseSettings):
    """Configuration of dockerhub-export; every field maps to an environment variable (see .env.example)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8-sig", extra="ignore", populate_by_name=True
    )

    org: str | None = Field(None, validation_alias=AliasChoices("org", "DOCKERHUB_ORG"))
    token: SecretStr | None = Field(None, validation_alias=AliasChoices("token", "DOCKERHUB_TOKEN"))
    username: str | None = Field(None, validation_alias=AliasChoices("username", "DOCKERHUB_USERNAME"))
    api_url: str = Field(
        "https://hub.docker.com", validation_alias=AliasChoices("api_url", "DOCKERHUB_API_URL")
    )
    export_dir: Path = Field(Path("exports"), validation_alias=AliasChoices("export_dir", "EXPORT_DIR"))
    snapshot_database_url: SecretStr | None = Field(
        None, validation_alias=AliasChoices("snapshot_database_url", "SNAPSHOT_DATABASE_URL")
    )
    concurrency: int = Field(
        DEFAULT_CONCURRENCY,
        ge=1,
        le=MAX_CONCURRENCY,
        validation_alias=AliasChoices("concurrency", "DOCKERHUB_CONCURRENCY"),
    )
    timeout: float = Field(30.0, gt=0, validation_alias=AliasChoices("timeout", "DOCKERHUB_TIMEOUT"))
    max_attempts: int = Field(
        6, ge=1, le=20, validation_alias=AliasChoices("max_attempts", "DOCKERHUB_MAX_ATTEMPTS")
    )
    csv_safe: bool = Field(True, validation_alias=AliasChoices("csv_safe", "DOCKERHUB_CSV_SAFE"))

    @field_validator("org")
    @classmethod
    def _org(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return validate_org(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("token", "snapshot_database_url")
    @classmethod
    def _empty_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"DOCKERHUB_API_URL must be an http(s) URL, got {value!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("DOCKERHUB_API_URL must not carry credentials, a query or a fragment")
        return value.strip().rstrip("/")

    @classmethod
    def load(cls, _env_file: str | Path | None = ".env", **overrides: object) -> "Settings":
        """Environment and ``.env``, then the non-None ``overrides``; errors become one `ConfigError` line."""
        given = {key: value for key, value in overrides.items() if value is not None}
        if _env_file is not None:
            check_env_file(Path(_env_file))
        try:
            return cls(_env_file=_env_file, **given)  # type: ignore[arg-type, call-arg]
        except ValidationError as exc:
            first = exc.errors()[0]
            field_name = str(first["loc"][0]) if first["loc"] else ""
            where = _WHERE.get(field_name, field_name or "settings")
            message = str(first["msg"]).removeprefix("Value error, ")
            raise ConfigError(f"{where}: {message}") from None

    def require_org(self) -> str:
        if not self.org:
            raise ConfigError("no organization given: pass --org ORG or set DOCKERHUB_ORG")
        return self.org

    def require_token(self) -> SecretStr:
        if self.token is None:
            raise ConfigError(
                "DOCKERHUB_TOKEN is not set: create an organization access token (Admin Console > "
                "Access tokens) or a personal access token, and put it in the environment or .env"
            )
        return self.token

    @property
    def identifier(self) -> str:
        """Who logs in: the username for a PAT, else the org (an OAT's identifier is its org)."""
        return self.username or self.require_org()
