"""The one-process alternative to a work pool and a worker: serve the deployments from here.

    cd /path/to/clone && python deployments/serve.py        # PREFECT_API_URL must name a server

This process registers the deployments of ``deployments/prefect.yaml`` (same names, schedules,
timezones, parameter defaults and tags, read from that file) and then runs their scheduled and
manually triggered runs itself, each in a subprocess, until it is stopped. Runs start in the clone's
root, as under a worker, so ``.env`` and the default ``exports/`` folder are the clone's.

Serve *or* deploy to the pool, not both. A deployment of the same name made by ``prefect deploy``
keeps its work pool when served over (its runs then crash: "Downloading flow code from storage at
None"), so this script refuses to start until it is deleted (the message says how). Stopping this
process pauses the schedules (Prefect's default); starting it again resumes them.
"""

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PREFECT_FILE = ROOT / "deployments" / "prefect.yaml"


def deployment_specs(path: Path = PREFECT_FILE) -> list[dict[str, Any]]:
    """The ``deployments:`` entries of the prefect.yaml."""
    import yaml

    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"])


def runner_deployments(path: Path = PREFECT_FILE) -> Iterator[Any]:
    """One `RunnerDeployment` per prefect.yaml entry, with the same schedule, timezone and defaults."""
    from prefect.flows import Flow, load_flow_from_entrypoint
    from prefect.schedules import Cron

    for spec in deployment_specs(path):
        schedules = [
            Cron(item["cron"], timezone=item.get("timezone"), active=item.get("active", True))
            for item in spec.get("schedules") or []
        ]
        flow: Flow[..., Any] = load_flow_from_entrypoint(spec["entrypoint"], use_placeholder_flow=False)
        yield flow.to_deployment(
            name=spec["name"],
            description=spec.get("description"),
            tags=spec.get("tags"),
            parameters=spec.get("parameters") or {},
            schedules=schedules,
        )


def _worker_deployments(deployments: list[Any]) -> list[str]:
    """Names of those ``deployments`` that already exist on the server as work-pool deployments."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    taken = []
    with get_client(sync_client=True) as client:
        for deployment in deployments:
            name = f"{deployment.flow_name}/{deployment.name}"
            try:
                existing = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            if existing.work_pool_name:
                taken.append(name)
    return taken


def main() -> None:
    from prefect import serve
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        sys.stderr.write(
            "error: PREFECT_API_URL is not set: start a server (prefect server start) and export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api, or a served deployment would live and die "
            "with a temporary server inside this process\n"
        )
        raise SystemExit(2)
    deployments = list(runner_deployments())
    taken = _worker_deployments(deployments)
    if taken:
        sys.stderr.write(
            f"error: {', '.join(taken)} already exist as work-pool deployments (prefect deploy): serving "
            "over them would leave their work pool set and their runs would crash. Use the worker, or "
            f"delete them first: {'; '.join(f'prefect deployment delete {name}' for name in taken)}\n"
        )
        raise SystemExit(2)
    os.chdir(ROOT)
    serve(*deployments)


if __name__ == "__main__":
    main()
