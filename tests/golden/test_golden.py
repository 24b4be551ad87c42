"""The program's behaviour equals the golden outputs pinned before the refactor (see scenarios.py).

Each output of `scenarios.collect` is compared with ``data/<name>.txt``, byte for byte; a mismatch shows
a unified diff. Regenerate the data only on purpose, with ``python tests/golden/make.py``.

The scenarios run twice: with a Prefect server (``run`` is a flow run, as when the data was pinned) and
without one (``run`` works in-process). The in-process outputs are the same files, but for Prefect's own
records of a run and the one line on stderr that says the run is in-process.
"""

import difflib
from pathlib import Path

import pytest

from golden.scenarios import PREFECT_ONLY, collect

pytestmark = pytest.mark.prefect

DATA = Path(__file__).resolve().parent / "data"
MAX_DIFF_LINES = 300


def data_file(name: str) -> Path:
    return DATA / f"{name}.txt"


def read_golden() -> dict[str, str]:
    outputs = {}
    for path in sorted(DATA.glob("*.txt")):
        with open(path, encoding="utf-8", newline="") as handle:  # newline="": keep \r\n as is
            outputs[path.name.removesuffix(".txt")] = handle.read()
    return outputs


def _shown(line: str) -> str:
    """A diff line as printed: invisible endings (trailing blanks, CR) escaped, a missing newline said."""
    if not line.endswith("\n"):
        return (repr(line)[1:-1] if line.endswith((" ", "\r")) else line) + "\n\\ No newline at end of file\n"
    if line[:-1].endswith((" ", "\r")):
        return repr(line)[1:-1] + "\n"
    return line


def diff(name: str, expected: str, actual: str) -> str:
    lines = list(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"golden/{name}",
            tofile=f"now/{name}",
        )
    )
    shown = "".join(_shown(line) for line in lines[:MAX_DIFF_LINES])
    if len(lines) > MAX_DIFF_LINES:
        shown += f"... {len(lines) - MAX_DIFF_LINES} more diff lines\n"
    if not lines:  # differs only where splitlines cannot show it (e.g. a final newline)
        shown = f"expected {expected[-80:]!r}\nactual   {actual[-80:]!r}\n"
    return shown


def compare(outputs: dict[str, str]) -> list[str]:
    """Every difference between ``outputs`` and the golden files, as readable text."""
    golden = read_golden()
    problems = [f"new output {name} (no golden file)" for name in outputs if name not in golden]
    problems += [f"missing output {name} (golden file exists)" for name in golden if name not in outputs]
    problems += [
        f"{name} differs:\n{diff(name, golden[name], outputs[name])}"
        for name in golden
        if name in outputs and golden[name] != outputs[name]
    ]
    return problems


@pytest.fixture(scope="module")
def outputs(prefect_api_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return collect(tmp_path_factory.mktemp("golden"), prefect_api_url)


GOLDEN = read_golden()
GOLDEN_NAMES = sorted(GOLDEN)


def test_the_same_outputs_exist(outputs: dict[str, str]) -> None:
    assert GOLDEN_NAMES, f"no golden data in {DATA}: run python tests/golden/make.py"
    assert sorted(outputs) == GOLDEN_NAMES


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_output_is_unchanged(outputs: dict[str, str], name: str) -> None:
    if name not in outputs:
        pytest.fail(f"{name}: no longer produced")
    expected = GOLDEN[name]
    if outputs[name] != expected:
        pytest.fail(
            f"{name} differs from the golden file:\n{diff(name, expected, outputs[name])}", pytrace=False
        )


IN_PROCESS_NOTE = "no Prefect server configured: running in-process"


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return collect(tmp_path_factory.mktemp("golden-in-process"), None)


def test_in_process_runs_have_the_outputs_of_flow_runs_but_prefects_records(
    in_process: dict[str, str],
) -> None:
    assert sorted(in_process) == [name for name in GOLDEN_NAMES if not name.endswith(PREFECT_ONLY)]


@pytest.mark.parametrize("name", [name for name in GOLDEN_NAMES if not name.endswith(PREFECT_ONLY)])
def test_in_process_output_is_unchanged(in_process: dict[str, str], name: str) -> None:
    actual = in_process.get(name)
    if actual is None:
        pytest.fail(f"{name}: not produced in-process")
    if name.endswith(".stderr"):
        notes = [line for line in actual.splitlines(keepends=True) if IN_PROCESS_NOTE in line]
        assert len(notes) <= 1, f"{name}: the in-process note is said more than once:\n{actual}"
        succeeded = GOLDEN[name.removesuffix(".stderr") + ".exit"] == "0\n"
        if "-run-" in name and succeeded:
            assert notes, f"{name}: a run without a Prefect server must say it runs in-process:\n{actual}"
        actual = actual.replace(notes[0], "", 1) if notes else actual
    if actual != GOLDEN[name]:
        pytest.fail(
            f"{name} differs from the golden file:\n{diff(name, GOLDEN[name], actual)}", pytrace=False
        )
