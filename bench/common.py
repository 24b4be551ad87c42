"""Shared helpers of the benchmarks: the Hub process, a Prefect server, timed subprocesses, tables.

Every bench runs the project and its baseline side by side in one process run (interleaved when
repeated) and reports ratios, because the machine is shared and noisy: absolute seconds drift from
run to run, ratios measured a few seconds apart much less.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

# What the harness already has; the scripts not yet on it share it from there.
from harness.tools import ORG as ORG
from harness.tools import TOKEN as TOKEN
from harness.tools import Timed as Timed
from harness.tools import clean_env as clean_env
from harness.tools import free_port as free_port
from harness.tools import hub_env as hub_env
from harness.tools import limit_span as limit_span
from harness.tools import median as median

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
TESTS = ROOT / "tests"
RESULTS = BENCH / "results"  # git-ignored: raw JSON of each run
PY = sys.executable
BIN = Path(PY).parent
CLI = str(BIN / "dockerhub-export") if (BIN / "dockerhub-export").exists() else "dockerhub-export"
PREFECT = str(BIN / "prefect") if (BIN / "prefect").exists() else "prefect"
REFERENCE_SCRIPT = TESTS / "reference" / "export.sh"

for _path in (str(ROOT / "src"), str(ROOT), str(TESTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)


# -- formatting ------------------------------------------------------------------------------------


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{time.strftime('%Y-%m-%d %H:%M')} | {os.cpu_count()} cores | python {platform.python_version()} | "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = (
        [max(len(str(h)), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
        if cells
        else [len(h) for h in headers]
    )
    lines = [f"\n## {title}", ""]
    lines.append("| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        lines.append("| " + " | ".join(value.ljust(w) for value, w in zip(row, widths, strict=True)) + " |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2, default=str))
    return path


# -- the Hub process ---------------------------------------------------------------------------------


class HubProcess:
    """`bench/hubserver.py` in a child process; ``with HubProcess(repos=..., latency=...) as hub``.

    The child prints one JSON line when it listens (its ``url``, and what else it tells: `started`),
    then answers one JSON command per line on stdin (`call`). `tagdata.TagHubProcess` is another such
    child."""

    def __init__(self, repos: int, latency: float = 0.0, seed: int = 0) -> None:
        self.repos, self.latency, self.seed = repos, latency, seed
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.started: dict[str, Any] = {}

    def command(self) -> list[str]:
        return [
            PY,
            str(BENCH / "hubserver.py"),
            *("--org", ORG, "--token", TOKEN, "--repos", str(self.repos)),
            *("--latency", str(self.latency), "--seed", str(self.seed)),
        ]

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the bench hub did not start: {' '.join(self.command())}")
        self.started = json.loads(line)
        self.url = self.started["url"]
        return self

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stats(self) -> dict[str, Any]:
        return self.call("stats")

    def reset(self) -> None:
        self.call("reset")

    def faults(self, **fields: Any) -> None:
        self.call("faults", **fields)

    def quota(self, per_window: int, window: float = 1.0) -> None:
        self.call("quota", per_window=per_window, window=window)

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            self.call("quit")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def answer_commands(
    hub: Any, hello: dict[str, Any], handle: Callable[[str, dict[str, Any]], dict[str, Any] | None]
) -> None:
    """The child's side of `HubProcess`: print ``hello``, then answer one JSON command a line from stdin
    until ``quit``. ``faults`` sets fields of ``hub.faults``; ``handle(name, args)`` answers the others
    (None: an unknown command). Stops the hub at the end."""
    out = sys.stdout
    out.write(json.dumps(hello) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        name = command.pop("cmd")
        answer: dict[str, Any] | None = {"ok": True}
        if name == "faults":
            for key, value in command.items():
                setattr(hub.faults, key, value)
        elif name != "quit":
            answer = handle(name, command)
        if answer is None:
            answer = {"ok": False, "error": f"unknown command {name}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
        if name == "quit":
            break
    hub.stop()


def span(stats: dict[str, Any]) -> float:
    """Server-side span of the listing: first list request received → last one answered."""
    rows = stats["list_requests"]
    return max(r[2] for r in rows) - min(r[1] for r in rows) if rows else float("nan")


# -- environment for the CLI ----------------------------------------------------------------------------


def run_timed(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 900,
) -> Timed:
    """Run ``cmd``; wall time and the peak RSS of that process (and its waited-for children)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Timed(seconds, usage.ru_maxrss / 1024, proc.returncode, out.read(), err.read())


def require_ok(result: Timed, what: str) -> Timed:
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}\n{result.stdout[-1000:]}"
        )
    return result


# -- a Prefect server ------------------------------------------------------------------------------------


@contextlib.contextmanager
def prefect_server(timeout: float = 180) -> Iterator[dict[str, str]]:
    """``prefect server start`` on a free port with a throw-away PREFECT_HOME; yields the client env.

    Stopped (its whole process group, which we created) when the block ends.
    """
    home = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
    port = free_port()
    env = clean_env(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_UI_ENABLED="false",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
    )
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        started = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited: {(home / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() - started > timeout:
                raise RuntimeError("prefect server did not become healthy")
            time.sleep(0.5)
        print(f"prefect server up at {api} after {time.monotonic() - started:.1f} s", flush=True)
        yield {"PREFECT_API_URL": api, "PREFECT_HOME": str(home)}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def reference_script(hub_url: str, workdir: Path) -> Timed:
    """The reference doc's curl + jq script against the bench Hub; writes ``workdir/repos.csv``."""
    env = clean_env(HUB=hub_url, ORG=ORG, OAT=TOKEN)
    return require_ok(run_timed(["bash", str(REFERENCE_SCRIPT)], env=env, cwd=workdir), "reference script")


def parse_args(description: str, extra: Any = None) -> Any:
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    parser.add_argument(
        "--compare",
        metavar="REV",
        help="also measure every project figure on the code of git revision REV (e.g. 9b1adc3), side by "
        f"side with the current code, and report current / REV (PASS at ≤ {COMPARE_LIMIT:.2f})",
    )
    if extra:
        extra(parser)
    return parser.parse_args()


# -- side by side with another git revision (--compare REV) ------------------------------------------------

COMPARE_LIMIT = 1.10  # issue 9: "the benchmarks stay within 10 % of the pre-redesign commit"


def checkout(rev: str, into: Path) -> Path:
    """The project's files at git revision ``rev`` in ``into`` (for PYTHONPATH: ``src`` and the root)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    package = into / "src" / "dockerhub_export"
    if (into / "flows").is_dir() and package.is_dir() and not (package / "flows").exists():
        # REV's own flows: else the editable install maps `dockerhub_export.flows` to this tree's.
        (package / "flows").symlink_to(into / "flows", target_is_directory=True)
    return into


@dataclass
class Revision:
    """Code to run a measured part on: the current tree (``rev`` None: the installed project, as the
    benches always ran it) or git revision ``rev`` unpacked in ``tree`` and put first on PYTHONPATH.

    The installed `dockerhub-export` console script and `python bench/compat.py` then import that
    revision's `dockerhub_export` (before the reshape, its flows as the top-level `flows` package of the
    root, hence the root on the path too); everything else (Prefect, pandas, ...) is this venv's.
    """

    rev: str | None = None
    tree: Path | None = None
    sha: str = ""

    @property
    def label(self) -> str:
        return "current" if self.rev is None else f"{self.rev}"

    def env(self, env: dict[str, str]) -> dict[str, str]:
        if self.tree is None:
            return dict(env)
        path = f"{self.tree / 'src'}:{self.tree}"
        if env.get("PYTHONPATH"):
            path += ":" + env["PYTHONPATH"]
        return {**env, "PYTHONPATH": path}

    def worker(
        self,
        task: str,
        *args: Any,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 900,
    ) -> tuple[dict[str, Any], Timed]:
        """`bench/compat.py TASK ARGS` on this revision's code: its JSON answer and the process's timing."""
        result = require_ok(
            run_timed(
                [PY, str(BENCH / "compat.py"), task, *map(str, args)],
                env=self.env(env or clean_env()),
                cwd=cwd,
                timeout=timeout,
            ),
            f"compat.py {task} on {self.label}",
        )
        answer = json.loads(result.stdout.strip().splitlines()[-1])
        expected = (
            (self.tree / "src" / "dockerhub_export") if self.tree else ROOT / "src" / "dockerhub_export"
        )
        if Path(answer["module"]) != expected.resolve():
            raise RuntimeError(f"compat.py on {self.label} imported {answer['module']}, not {expected}")
        return answer, result


CURRENT = Revision()


@contextlib.contextmanager
def revision(rev: str | None) -> Iterator[Revision | None]:
    """``git archive REV`` in a temporary folder for the block (None: no comparison)."""
    if not rev:
        yield None
        return
    sha = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix="bench-rev-"))
    try:
        yield Revision(rev, checkout(rev, folder / "tree"), sha)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def paired_ratio(new: Sequence[float], old: Sequence[float]) -> float:
    """Median of new[i] / old[i]: each pair measured right after each other, so the noise cancels out."""
    return median([a / b for a, b in zip(new, old, strict=True) if b])


def compare_verdict(ratio: float) -> str:
    return f"{verdict(ratio <= COMPARE_LIMIT)} ≤ {COMPARE_LIMIT:.2f}×"


def compare_table(
    rev: Revision, title: str, rows: Sequence[tuple[str, str, Sequence[float], Sequence[float]]]
) -> str:
    """One row per figure: (what, unit, current values, REV values), paired by index."""
    cells = []
    for what, unit, new, old in rows:
        ratio = paired_ratio(new, old)
        cells.append([what, unit, median(new), median(old), f"{ratio:.3f}", len(new), compare_verdict(ratio)])
    return table(
        f"{title}: current vs {rev.rev}"
        + (f" ({rev.sha})" if not rev.sha.startswith(rev.rev) else "")
        + ", side by side",
        [
            "figure",
            "unit",
            "current",
            f"{rev.rev}",
            f"current / {rev.rev} (median of pairs)",
            "pairs",
            "verdict",
        ],
        cells,
    )
