"""Run options declared once: the command line's flags, both flows' parameters (with the run form's
descriptions) and both nightly deployments' defaults are made from `run_options`, and agree."""

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dockerhub_export import run_options
from dockerhub_export.run_options import NIGHTLY, OPTIONS, RunOptions, split, values_of

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 27)


def _flow_parameters(name: str) -> dict[str, Any]:
    if name == "export-repositories":
        from dockerhub_export.flows.export_repositories import export_repositories as flow
    else:
        from dockerhub_export.flows.export_organizations import export_organizations as flow
    properties: dict[str, Any] = flow.parameters.model_dump()["properties"]
    return properties


@pytest.mark.parametrize("flow", ["export-repositories", "export-organizations"])
def test_every_declared_option_is_a_parameter_of_each_flow_with_its_text_and_default(flow: str) -> None:
    parameters = _flow_parameters(flow)
    for item in OPTIONS:
        assert item.name in parameters, f"{flow} lacks the option {item.name}"
        spec = parameters[item.name]
        assert spec["description"] == item.help
        assert spec["default"] == item.default


def test_both_flows_offer_the_same_options_in_the_same_words() -> None:
    single, many = _flow_parameters("export-repositories"), _flow_parameters("export-organizations")
    for item in OPTIONS:
        one, other = dict(single[item.name]), dict(many[item.name])
        one.pop("position"), other.pop("position")
        assert one == other, item.name


def test_bounds_are_checked_by_the_flow_as_declared() -> None:
    concurrency = _flow_parameters("export-repositories")["concurrency"]
    bounds = next(choice for choice in concurrency["anyOf"] if choice.get("type") == "integer")
    assert (bounds["minimum"], bounds["maximum"]) == (1, run_options.MAX_CONCURRENCY)
    refresh = _flow_parameters("export-organizations")["tags_refresh_days"]
    assert refresh["minimum"] == 0


@pytest.mark.parametrize("entrypoint", ["export_repositories", "export_organizations"])
def test_each_nightly_deployment_lists_every_option_with_its_nightly_default(entrypoint: str) -> None:
    specs = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    (spec,) = [spec for spec in specs if spec["entrypoint"].endswith(f".{entrypoint}")]
    parameters = spec["parameters"]
    assert {name: parameters.get(name, "(missing)") for name in NIGHTLY} == NIGHTLY
    assert NIGHTLY["include_tags"] is True  # the nightly run keeps the tag history


def test_the_run_command_has_a_flag_for_every_option() -> None:
    from dockerhub_export.cli import app

    result = CliRunner().invoke(app, ["run", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for item in OPTIONS:
        for spelling in item.flag.split("/"):  # --report/--no-report: both spellings
            assert spelling in result.output, spelling
        assert (item.flag_help or item.help).split(" (")[0][:40] in " ".join(result.output.split())


def test_split_and_values_of_round_trip_and_unknown_options_are_refused() -> None:
    options = RunOptions(DAY, include_tags=True, tags_refresh_days=3, write_snapshots=False)
    values = values_of(options, {"concurrency": 6, "csv_safe": None})
    assert split(values, DAY) == (options, {"concurrency": 6, "csv_safe": None})
    with pytest.raises(TypeError, match="include_tagz"):
        split({"include_tagz": True}, DAY)


def test_an_inverted_flag_turns_its_option_off_and_its_absence_leaves_the_environment() -> None:
    from dockerhub_export.cli.options import option_values

    absent = {item.name: (False if item.inverted else item.default) for item in OPTIONS}
    assert option_values(absent)["csv_safe"] is None  # DOCKERHUB_CSV_SAFE still decides
    assert option_values(absent)["write_snapshots"] is True
    given = dict(absent, csv_safe=True, write_snapshots=True)  # --no-csv-safe --no-db
    assert option_values(given)["csv_safe"] is False and option_values(given)["write_snapshots"] is False
