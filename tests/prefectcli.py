"""What the deployment tests share: the `prefect` command of this environment and a clean environment
for it (this server, its own PREFECT_HOME, telemetry off, nothing of the developer's Hub settings)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "dockerhub-export"  # the work pool deployments/prefect.yaml names


def clean_env(api_url: str, home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for the CLI: this server, its own PREFECT_HOME, telemetry off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKERHUB_", "PREFECT_"))}
    env.pop("EXPORT_DIR", None)
    env.pop("SNAPSHOT_DATABASE_URL", None)
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(home),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        **extra,
    )
    return env
