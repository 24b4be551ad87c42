"""What a run of one org may be asked to do, declared once.

Each option is declared here, with one help text, and nowhere else: the command line's ``run`` flags
(`cli`), both flows' parameters with the descriptions of the UI's run form (``flows/``) and the nightly
deployment's defaults (``deployments/prefect.yaml``, checked against `NIGHTLY` by the tests) are all
made from these declarations. Adding an option is a field of `RunOptions` (or an entry of
`SETTING_OPTIONS` when it is a `Settings` field) plus its use.

No heavy imports: the command line's ``--help`` reads this module.
"""

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, TypeVar

T = TypeVar("T")

DEFAULT_CONCURRENCY = 12  # requests in flight to the Hub (the README says why)
MAX_CONCURRENCY = 16  # the Hub's abuse limit is "thousands per minute"; 16 in flight stays far below


@dataclass(frozen=True)
class Option:
    """One option: its flow parameter, its command-line flag and the text both show."""

    name: str  # the flow parameter, and the field of RunOptions or Settings it fills
    annotation: Any  # the flow parameter's type
    default: Any  # the flow's and the command line's default
    help: str  # what the option does, as the UI's run form and the command line show it
    flag: str  # the command line's spelling
    inverted: bool = False  # the flag turns the option off (--no-db: write_snapshots false)
    flag_help: str | None = None  # the flag's own text, where it says the opposite of `help`
    minimum: int | None = None
    maximum: int | None = None
    nightly: Any = None  # the nightly deployment's default (None: the same as `default`)
    setting: bool = False  # a Settings field: None means "from the environment"

    @property
    def nightly_default(self) -> Any:
        return self.default if self.nightly is None else self.nightly

    def constrained(self) -> Any:
        """The parameter's type with its bounds, as pydantic (the flows) reads them."""
        if self.minimum is None and self.maximum is None:
            return self.annotation
        from pydantic import Field

        return Annotated[self.annotation, Field(ge=self.minimum, le=self.maximum)]


def option(
    default: T,
    *,
    flag: str,
    help: str,
    inverted: bool = False,
    flag_help: str | None = None,
    minimum: int | None = None,
    nightly: T | None = None,
) -> T:
    """A field of `RunOptions` that is also an option (a dataclass field carrying its `Option`)."""
    meta = {
        "flag": flag,
        "help": help,
        "inverted": inverted,
        "flag_help": flag_help,
        "minimum": minimum,
        "nightly": nightly,
    }
    field: T = dataclasses.field(default=default, metadata={"option": meta})
    return field


@dataclass(frozen=True)
class RunOptions:
    """What a run does besides the settings: the day it files, and what the user may turn on or off."""

    snapshot_date: date
    allow_empty: bool = option(
        False,
        flag="--allow-empty",
        help="Accept an org with zero visible repositories (normally an error: a wrong name or token scope).",
    )
    allow_drop: bool = option(
        False,
        flag="--allow-drop",
        help="Accept losing all private repositories, or more than half of the repositories, since the "
        "last snapshot.",
    )
    write_snapshots: bool = option(
        True,
        flag="--no-db",
        inverted=True,
        help="Also upsert the day's snapshot into the database (SNAPSHOT_DATABASE_URL, else SQLite under "
        "the output folder) and log the run.",
        flag_help="Write the CSV only, no snapshot.",
    )
    include_tags: bool = option(
        False,
        flag="--tags",
        help="Also every repository's tags: <org>/tags-<date>.csv and the tag history (stale tags, storage).",
        nightly=True,
    )
    tags_refresh_days: int = option(
        7,
        flag="--tags-refresh-days",
        minimum=0,
        help="List a repository's tags at least every N nights, even when nothing says they changed "
        "(0: every night).",
    )
    include_access: bool = option(
        False,
        flag="--access",
        help="Also who has access: <org>/members-, permissions-, access- and tokens-<date>.csv (members and "
        "access hold personal data: mode 0600) and the access history. Each listing the token may not "
        "read costs one warning.",
        nightly=True,
    )
    report: bool = option(
        False,
        flag="--report/--no-report",
        help="Also the night's report: <org>/report-<date>.html, one self-contained page to open, forward "
        "and print, made from the snapshot database once the night is stored (without a database: a "
        "warning, no report).",
        nightly=True,
    )


# Options that are Settings fields: None (the default) leaves them to the environment.
SETTING_OPTIONS: tuple[Option, ...] = (
    Option(
        "concurrency",
        int | None,
        None,
        help=f"Parallel requests to Docker Hub, 1-{MAX_CONCURRENCY}. Default: DOCKERHUB_CONCURRENCY, "
        f"else {DEFAULT_CONCURRENCY}.",
        flag="--concurrency",
        minimum=1,
        maximum=MAX_CONCURRENCY,
        setting=True,
    ),
    Option(
        "csv_safe",
        bool | None,
        None,
        help="Neutralise spreadsheet formulas in text cells (OWASP CSV injection). Default: "
        "DOCKERHUB_CSV_SAFE, else on.",
        flag="--no-csv-safe",
        inverted=True,
        flag_help="Keep text cells verbatim (no neutralising of =, +, -, @ prefixes).",
        setting=True,
    ),
)


def _run_option(field: "dataclasses.Field[Any]") -> Option:
    meta = field.metadata["option"]
    return Option(field.name, field.type, field.default, **meta)


RUN_OPTIONS: tuple[Option, ...] = tuple(
    _run_option(field) for field in dataclasses.fields(RunOptions) if "option" in field.metadata
)
OPTIONS: tuple[Option, ...] = SETTING_OPTIONS + RUN_OPTIONS
NIGHTLY: dict[str, Any] = {item.name: item.nightly_default for item in OPTIONS}


def parameters() -> list[inspect.Parameter]:
    """Every option as a keyword-only flow parameter, with its bounds and its default."""
    return [
        inspect.Parameter(
            item.name, inspect.Parameter.KEYWORD_ONLY, default=item.default, annotation=item.constrained()
        )
        for item in OPTIONS
    ]


def docstring_lines(indent: str = "        ") -> list[str]:
    """The options' lines of a Google-style ``Args:`` section (what Prefect shows in the run form)."""
    return [f"{indent}{item.name}: {item.help}" for item in OPTIONS]


def split(values: Mapping[str, Any], snapshot_date: date) -> tuple[RunOptions, dict[str, Any]]:
    """Option values (flow parameters, flags) as the run's `RunOptions` and its `Settings` overrides."""
    unknown = set(values) - {item.name for item in OPTIONS}
    if unknown:
        raise TypeError(f"unknown run options: {', '.join(sorted(unknown))}")
    run = RunOptions(
        snapshot_date, **{item.name: values[item.name] for item in RUN_OPTIONS if item.name in values}
    )
    settings = {item.name: values.get(item.name) for item in SETTING_OPTIONS}
    return run, settings


def values_of(options: RunOptions, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `split`: every option's value, to pass on as flow parameters."""
    values = {item.name: getattr(options, item.name) for item in RUN_OPTIONS}
    values.update({item.name: settings.get(item.name) for item in SETTING_OPTIONS})
    return values
