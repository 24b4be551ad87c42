"""Is a Prefect server configured? Read the way Prefect 3 reads its settings, without importing
Prefect (2 s): the environment, then ``.env``, ``prefect.toml`` and ``pyproject.toml`` in the working
directory, then the active profile of the profiles file Prefect would use.

`dockerhub-export run` asks before it decides how to run (see `cli`): without a server, Prefect would
start a temporary one for the one command, 10-25 s, whose records vanish with it.
"""

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def configured_prefect_api(
    directory: Path | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The Prefect API URL that Prefect would use here, or None (it would start a temporary server)."""
    environ = os.environ if environ is None else environ
    directory = Path.cwd() if directory is None else directory
    dotenv = _dotenv(directory / ".env")
    for value in (
        environ.get("PREFECT_API_URL"),
        dotenv.get("PREFECT_API_URL"),
        _toml_value(directory / "prefect.toml", ("api", "url")),
        _toml_value(directory / "pyproject.toml", ("tool", "prefect", "api", "url")),
        _profile(directory, environ, dotenv).get("PREFECT_API_URL"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _dotenv(path: Path) -> dict[str, str | None]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return dict(dotenv_values(path))


def _toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _toml_value(path: Path, keys: tuple[str, ...]) -> Any:
    value: Any = _toml(path)
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _profile(directory: Path, environ: Mapping[str, str], dotenv: Mapping[str, str | None]) -> dict[str, Any]:
    """The settings of the active profile in the profiles file Prefect would read."""
    home = environ.get("PREFECT_HOME")
    path = (
        environ.get("PREFECT_PROFILES_PATH")
        or dotenv.get("PREFECT_PROFILES_PATH")
        or _toml_value(directory / "prefect.toml", ("profiles_path",))
        or _toml_value(directory / "pyproject.toml", ("tool", "prefect", "profiles_path"))
        or (Path(home) / "profiles.toml" if home else Path.home() / ".prefect" / "profiles.toml")
    )
    profiles = _toml(Path(path).expanduser())
    active = environ.get("PREFECT_PROFILE") or profiles.get("active")
    chosen = profiles.get("profiles", {}).get(active) if isinstance(active, str) else None
    return chosen if isinstance(chosen, dict) else {}
