"""The benchmark harness: scenarios (what runs, at a size) with targets, run side by side.

`core` declares `Scenario` and `Target` and the registry; `runner` runs them (``--smoke``, ``--only``,
``--compare REV``, ``--repeat N``); `report` prints the tables; `tools` holds the Hub process, timed
subprocesses, a Prefect server and the code under test (`Code`); `worker` runs a measured library call in
its own process. One module per bench registers its scenarios (`SCENARIO_MODULES`).
"""

SCENARIO_MODULES = (
    "fetch",
    "fetch429",
    "memory",
    "run",
    "startup",
    "tags",
    "tagnights",
    "tagqueries",
    "shared_budget",
    "access",
    "access_history",
    "access_view",
    "snapshots",
    "history",
    "views",
    "report_page",
)
