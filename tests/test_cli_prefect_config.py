"""Is a Prefect server configured? Our light reading (no Prefect import) against Prefect's own, for each
place Prefect reads PREFECT_API_URL from: the environment, .env, prefect.toml, pyproject.toml, profiles."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockerhub_export.cli.prefect_config import configured_prefect_api

URL = "http://127.0.0.1:4321/api"
PROFILES = f"""active = "local"

[profiles.local]
PREFECT_API_URL = "{URL}"

[profiles.other]
PREFECT_SERVER_EPHEMERAL_ENABLED = "true"
"""


def _clean_environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    return env


def _prefects_own(directory: Path, env: dict[str, str]) -> str | None:
    code = "from prefect.settings import get_current_settings; print(get_current_settings().api.url)"
    out = (
        subprocess.run(
            [sys.executable, "-c", code], cwd=directory, env=env, capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return None if out == "None" else out


def _setup(case: str, directory: Path, home: Path, env: dict[str, str]) -> None:
    if case == "environment":
        env["PREFECT_API_URL"] = URL
    elif case == "dotenv":
        (directory / ".env").write_text(f"DOCKERHUB_ORG=acme\nPREFECT_API_URL={URL}\n")
    elif case == "prefect.toml":
        (directory / "prefect.toml").write_text(f'[api]\nurl = "{URL}"\n')
    elif case == "pyproject":
        (directory / "pyproject.toml").write_text(
            f'[project]\nname = "x"\n\n[tool.prefect.api]\nurl = "{URL}"\n'
        )
    elif case == "profile":
        (home / "profiles.toml").write_text(PROFILES)
    elif case == "profile chosen by PREFECT_PROFILE":
        (home / "profiles.toml").write_text(PROFILES)
        env["PREFECT_PROFILE"] = "other"
    elif case == "profiles path":
        (directory / "elsewhere.toml").write_text(PROFILES)
        env["PREFECT_PROFILES_PATH"] = str(directory / "elsewhere.toml")
    elif case == "nothing":
        (directory / ".env").write_text("DOCKERHUB_ORG=acme\n")


@pytest.mark.parametrize(
    "case",
    [
        "environment",
        "dotenv",
        "prefect.toml",
        "pyproject",
        "profile",
        "profile chosen by PREFECT_PROFILE",
        "profiles path",
        "nothing",
    ],
)
def test_our_reading_agrees_with_prefects_own(case: str, tmp_path: Path) -> None:
    directory, home = tmp_path / "work", tmp_path / "home"
    directory.mkdir()
    home.mkdir()
    env = _clean_environment(home)
    _setup(case, directory, home, env)
    ours = configured_prefect_api(directory, env)
    assert ours == _prefects_own(directory, env)
    assert (ours is None) == (case in ("nothing", "profile chosen by PREFECT_PROFILE"))
