"""Export every repository of a Docker Hub organization to a dated CSV and keep daily snapshots.

The library never imports Prefect: `flows/` wraps these functions in tasks, and the CLI runs the flow.
Heavy dependencies (httpx, pandas, SQLAlchemy) are imported by the modules that need them, so that
`import dockerhub_export` and `dockerhub-export --help` stay fast.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
