"""Shared fixtures: a fake Docker Hub on loopback, settings that point at it, a Prefect server.

Database fixtures (SQLite, PostgreSQL, MariaDB) live in ``tests/dbs.py``.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakehub import FakeHub, Faults, make_repos

pytest_plugins = ["dbs"]

ORG = "acme"
TOKEN = "dckr_oat_acme-all-7a3f"  # sees private repositories
PUBLIC_TOKEN = "dckr_oat_acme-public-91c2"  # an OAT without scope-repository-list: public only
PAT = "dckr_pat_alice-55e1"  # a personal access token of user alice
REPO_COUNT = 250

# Library code never reads the environment, but the CLI and the flow do: keep a developer's own
# Docker Hub or Prefect configuration out of the tests.
for _key in list(os.environ):
    if _key.startswith("DOCKERHUB_EXPORT_TEST_"):  # the test databases (see tests/dbs.py)
        continue
    if _key.startswith("DOCKERHUB_") or _key in ("EXPORT_DIR", "SNAPSHOT_DATABASE_URL"):
        del os.environ[_key]
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


@pytest.fixture
def repos() -> list[dict[str, Any]]:
    return make_repos(ORG, REPO_COUNT, seed=7)


@pytest.fixture
def hub(repos: list[dict[str, Any]]) -> Iterator[FakeHub]:
    """A fake Hub with org ``acme`` (250 repositories, a third private) and three tokens."""
    server = FakeHub(
        repos={ORG: repos},
        credentials={TOKEN: (ORG, "all"), PUBLIC_TOKEN: (ORG, "public"), PAT: ("alice", "all")},
        faults=Faults(),
    )
    with server:
        yield server


@pytest.fixture
def trap() -> Iterator[FakeHub]:
    """Another host: whatever reaches it is recorded, so tests can assert the token never did."""
    with FakeHub(repos={ORG: make_repos(ORG, 5)}, credentials={}) as server:
        yield server


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Build `Settings` aimed at a fake Hub, exports under tmp_path, nothing from the environment."""
    from dockerhub_export.settings import Settings

    def build(server: FakeHub, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "org": ORG,
            "token": TOKEN,
            "api_url": server.url,
            "export_dir": tmp_path / "exports",
            "concurrency": 4,
            "max_attempts": 4,
        }
        values.update(overrides)
        return Settings.load(None, **values)

    return build


@pytest.fixture
def app() -> Any:
    """A Typer app with the store commands (db, history, trends, stale, storage, backfill) as the main CLI
    registers them."""
    import typer

    from dockerhub_export.cli import audit, backfill, db, queries, tags

    app = typer.Typer(no_args_is_help=True, add_completion=False)

    @app.callback()
    def _root() -> None:
        """Test app: the commands as the main CLI registers them."""

    for module in (db, queries, tags, audit, backfill):
        module.register(app)
    return app


def invoke(app: Any, *args: str) -> Any:
    from typer.testing import CliRunner

    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="session")
def prefect_api_url() -> Iterator[str]:
    """A real Prefect server for the whole session (prefect_test_harness, ~20 s to start)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = PREFECT_API_URL.value()
        assert url, "prefect_test_harness did not set PREFECT_API_URL"
        yield url
