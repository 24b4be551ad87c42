"""What a flow needs from Prefect's side at run time: its settings and secrets, its day, its logs.

No secret is ever a parameter (Prefect stores parameters in plaintext): the token and a database URL
with a password come from the worker's environment, or from Secret blocks *named* by a parameter, or,
for the command line's runs, from the settings it built (`given_settings`), which never become
parameters either.
"""

import inspect
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from dockerhub_export import run_options
from dockerhub_export.errors import ConfigError
from dockerhub_export.settings import Settings, is_valid_org

LIBRARY_LOGGER = "dockerhub_export"
RUN_TAGS = ("dockerhub-export",)  # what the shipped automations match (deployments/automations/)
F = TypeVar("F", bound=Callable[..., Any])
# An environment variable's name, not its value: checked so a pasted token is refused, not stored.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names echoed in error messages (state message, logs): anything else might be a pasted secret.
_SHOWN_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_SHOWN_BLOCK_NAME = re.compile(r"[a-z0-9-]+")
_TOKEN_PREFIXES = ("dckr_pat_", "dckr_oat_")  # Docker personal / organization access tokens

_given: ContextVar[Settings | None] = ContextVar("dockerhub_export_given_settings", default=None)


@contextmanager
def given_settings(settings: Settings) -> Iterator[None]:
    """Flow runs started in this block use ``settings`` (built by the caller) instead of building their
    own from parameters and the environment: how the command line hands over its settings, secrets
    included, without a parameter or an environment variable carrying them."""
    token = _given.set(settings)
    try:
        yield
    finally:
        _given.reset(token)


def run_settings(
    org: str | None,
    output_dir: str | None,
    overrides: Mapping[str, Any],
    token_block: str | None,
    token_env: str | None,
    database_url_block: str | None,
) -> Settings:
    """The run's settings: the caller's (`given_settings`), else the parameters over the environment,
    with the token and database URL from the Secret blocks or the variable the parameters name."""
    given = _given.get()
    if given is not None:
        return given
    settings = Settings.load(
        org=org,
        export_dir=output_dir,
        **overrides,
        token=_token(token_block, token_env),
        snapshot_database_url=_secret(database_url_block),
    )
    _refuse_a_vanishing_output_dir(settings.export_dir)
    return settings


def _refuse_a_vanishing_output_dir(export_dir: Path, cwd: Path | None = None) -> None:
    """A process worker runs a deployment without a pull step in a temporary folder that it deletes
    after the run: a relative output folder there would take the CSVs and snapshots.db with it."""
    if export_dir.is_absolute():
        return
    cwd = Path.cwd() if cwd is None else cwd
    if cwd.parent == Path(tempfile.gettempdir()) and cwd.name.endswith("prefect"):
        raise ConfigError(
            f"the output folder {str(export_dir)!r} is relative, and this run works in {cwd}, a temporary "
            "folder the worker deletes after the run: set EXPORT_DIR to an absolute folder in the worker's "
            "environment, or pass output_dir"
        )


def _secret(block_name: str | None) -> str | None:
    if not block_name:
        return None
    from prefect.blocks.system import Secret

    if block_name.startswith(_TOKEN_PREFIXES):
        raise ConfigError(
            "the Secret block name looks like a Docker Hub token itself: revoke that token (it is now "
            "stored in this run's parameters), save the new one in a Secret block and pass the block's name"
        )
    try:
        block = Secret.load(block_name)
    except ValueError as exc:
        shown = f"{block_name!r} ({exc})" if _SHOWN_BLOCK_NAME.fullmatch(block_name) else "(name not shown)"
        raise ConfigError(
            f"cannot load the Secret block {shown}: create it in the Prefect UI "
            "(Blocks > Secret) or as docs/operations.md shows, or leave the parameter empty"
        ) from None
    assert isinstance(block, Secret)  # loaded synchronously: this flow is sync
    return str(block.get())


def _env_secret(variable: str | None) -> str | None:
    """The value of the environment variable *named* ``variable`` (read here, at the flow's edge)."""
    if not variable:
        return None
    if variable.startswith(_TOKEN_PREFIXES) or not _ENV_NAME.fullmatch(variable):
        raise ConfigError(
            "token_env must be the name of an environment variable (like DOCKERHUB_TOKEN_ACME), not a "
            "token: if a token was pasted here, revoke it, it is now stored in this run's parameters"
        )
    value = os.environ.get(variable, "").strip()
    if not value:
        shown = variable if _SHOWN_ENV_NAME.fullmatch(variable) else "named in token_env"
        raise ConfigError(
            f"the environment variable {shown} is not set where this flow runs: set it in the worker's "
            "(or serve process's) environment, or use token_block"
        )
    return value


def _token(token_block: str | None, token_env: str | None) -> str | None:
    if token_block and token_env:
        raise ConfigError("give token_block or token_env, not both")
    return _secret(token_block) or _env_secret(token_env)


def default_snapshot_date() -> date:
    """The UTC date of the scheduled slot, so a run that starts late still files the right day."""
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    if scheduled is None:
        return datetime.now(UTC).date()
    return datetime.fromtimestamp(scheduled.timestamp(), tz=UTC).date()


def forward_library_logs() -> None:
    """Send the library's own log lines (pages, retries, waits, totals) to the Prefect run logs."""
    from prefect.logging.handlers import APILogHandler

    library = logging.getLogger(LIBRARY_LOGGER)
    library.setLevel(logging.INFO)
    if not any(isinstance(handler, APILogHandler) for handler in library.handlers):
        library.addHandler(APILogHandler())


def with_run_options(function: F) -> F:
    """``function`` (a flow body taking ``**options``) with every declared run option as a parameter of
    its signature and a line of its docstring's ``Args:``, where Prefect reads the run form from."""
    signature = inspect.signature(function)
    own = [item for item in signature.parameters.values() if item.kind != item.VAR_KEYWORD]
    keyword = [item for item in own if item.kind == item.KEYWORD_ONLY]
    positional = [item for item in own if item.kind != item.KEYWORD_ONLY]
    function.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=positional + run_options.parameters() + keyword
    )
    doc = (function.__doc__ or "").rstrip()
    function.__doc__ = "\n".join([doc, *run_options.docstring_lines()]) + "\n    "
    return function


def run_name() -> str:
    """A run's name, ``<org>-<date>`` (the org from the parameters or DOCKERHUB_ORG, the day from the
    parameters or the scheduled slot), so that a night's run is found by its name in the UI."""
    from prefect.runtime import flow_run

    parameters = flow_run.parameters or {}
    given = _given.get()
    org = parameters.get("org") or (given.org if given else None) or os.environ.get("DOCKERHUB_ORG")
    day = parameters.get("snapshot_date") or default_snapshot_date()
    shown = org if org and is_valid_org(str(org)) else "unknown-org"
    return f"{shown}-{day}"
