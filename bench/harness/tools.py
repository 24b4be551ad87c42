"""The harness's tools: the code under test (`Code`), timed subprocesses, the Hub process, a Prefect server.

`Code` is the current tree or git revision REV unpacked by ``git archive`` into a temporary folder and put
first on PYTHONPATH, so that the installed `dockerhub-export` script and the library worker import REV's
own `dockerhub_export`; everything else (Prefect, pandas, ...) is this venv's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
TESTS = ROOT / "tests"
PY = sys.executable
BIN = Path(PY).parent
CLI = str(BIN / "dockerhub-export") if (BIN / "dockerhub-export").exists() else "dockerhub-export"
PREFECT = str(BIN / "prefect") if (BIN / "prefect").exists() else "prefect"
ORG = "acme"
TOKEN = "bench-oat-acme"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def paired_ratio(new: Sequence[float], old: Sequence[float]) -> float:
    """Median of new[i] / old[i]: each pair measured right after each other, so the noise cancels out
    (0 / 0, a count that stayed nought, is 1)."""
    return median([a / b if b else (math.inf if a else 1.0) for a, b in zip(new, old, strict=True)])


def limit_span(pages: int, concurrency: int, latency: float) -> float:
    """The physical floor of a fetch of ``pages`` pages: page 1 alone, then ⌈(P−1)/c⌉ rounds."""
    return (1 + math.ceil((pages - 1) / concurrency)) * latency


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The bench's environment without the user's Docker Hub, export or Prefect settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCKERHUB_", "PREFECT_"))
        and key not in ("EXPORT_DIR", "SNAPSHOT_DATABASE_URL")
    }
    env.update(DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONDONTWRITEBYTECODE="0")
    env.update(extra)
    return env


def hub_env(hub_url: str, **extra: str) -> dict[str, str]:
    return clean_env(DOCKERHUB_API_URL=hub_url, DOCKERHUB_TOKEN=TOKEN, DOCKERHUB_ORG=ORG, **extra)


@dataclass
class Timed:
    seconds: float
    maxrss_mib: float
    returncode: int
    stdout: str
    stderr: str


def run_timed(
    cmd: Sequence[str], *, env: dict[str, str], cwd: Path | None = None, timeout: float = 900
) -> Timed:
    """Run ``cmd``: its wall time and peak RSS (``wait4``); raises with its stderr if it fails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        while not pid:
            if time.perf_counter() - started > timeout:
                proc.kill()
            time.sleep(0.005)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Timed(seconds, usage.ru_maxrss / 1024, proc.returncode, out.read(), err.read())
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


@dataclass
class Code:
    """The code a project part runs on: the current tree (``rev`` empty) or git revision ``rev``."""

    rev: str = ""
    tree: Path = ROOT

    @property
    def label(self) -> str:
        return self.rev or "current"

    def env(self, env: dict[str, str]) -> dict[str, str]:
        if not self.rev:  # the installed (editable) project, as a user runs it
            return dict(env)
        path = f"{self.tree / 'src'}:{self.tree}"
        return {**env, "PYTHONPATH": path + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")}

    def worker(
        self, task: str, *args: object, env: dict[str, str] | None = None, script: str = "worker.py"
    ) -> dict[str, Any]:
        """A measured library call in a worker process of this code's own bench: its JSON answer, with
        the process's wall time (``process_s``) and peak RSS (``maxrss_mib``).

        REV's own worker knows REV's API: its `bench/harness/<script>` where that has the task, else its
        `bench/compat.py` (the worker of the benches before the harness, same tasks and arguments). A
        task newer than both runs in this tree's worker on REV's code (REV's API must have its calls)."""
        mine = BENCH / "harness" / script
        candidates = (self.tree / "bench" / "harness" / script, self.tree / "bench" / "compat.py", mine)
        path = next((p for p in candidates if p.is_file() and f"def task_{task}(" in p.read_text()), mine)
        result = run_timed([PY, str(path), task, *map(str, args)], env=self.env(env or clean_env()))
        answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        answer.update(process_s=result.seconds, maxrss_mib=result.maxrss_mib)
        expected = (self.tree / "src" / "dockerhub_export").resolve()
        if Path(answer["module"]) != expected:
            raise RuntimeError(f"the worker on {self.label} imported {answer['module']}, not {expected}")
        return answer


@contextlib.contextmanager
def codes(rev: str) -> Iterator[list[Code]]:
    """[the current tree] or [it, REV's code] (``git archive REV`` in a temporary folder for the block)."""
    if not rev:
        yield [Code()]
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-rev-"))
    try:
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        package = folder / "src" / "dockerhub_export"
        if (folder / "flows").is_dir() and not (package / "flows").exists():
            # REV's own flows: else the editable install maps `dockerhub_export.flows` to this tree's.
            (package / "flows").symlink_to(folder / "flows", target_is_directory=True)
        yield [Code(), Code(rev, folder)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class HubProcess:
    """`hubserver.py` (the fake Hub of tests/fakehub.py) in a child process, steered over stdin."""

    def __init__(self, repos: int, latency: float) -> None:
        self.command = [PY, str(BENCH / "harness" / "hubserver.py"), "--org", ORG, "--token", TOKEN]
        self.command += ["--repos", str(repos), "--latency", str(latency)]
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the bench hub did not start: {' '.join(self.command)}")
        self.url = json.loads(line)["url"]
        return self

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return answer

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


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def prefect_server(timeout: float = 180) -> Iterator[dict[str, str]]:
    """``prefect server start`` on a free port with a throw-away PREFECT_HOME; yields the client env."""
    home = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
    port = free_port()
    env = clean_env(
        PREFECT_HOME=str(home), PREFECT_UI_ENABLED="false", PREFECT_SERVER_LOGGING_LEVEL="WARNING"
    )
    cmd = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with open(home / "server.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(api):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"prefect server did not start: {(home / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.3)
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
        shutil.rmtree(home, ignore_errors=True)


def content_key(seed: str, files: list[Path]) -> str:
    """A short hash of ``seed`` and the files' names and contents (absent ones skipped): what a cached
    database built by those files depends on."""
    digest = hashlib.sha256(seed.encode())
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(path.parents[1])).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
