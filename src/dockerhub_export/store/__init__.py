"""The snapshot database: daily snapshots of an organization's repositories, and a log of every run.

SQLite is the embedded default; PostgreSQL and MariaDB/MySQL are supported servers. The schema is
managed by the Alembic revisions shipped in ``dockerhub_export/migrations`` and upgraded automatically
when an engine is opened. The store takes typed rows and knows nothing of the Hub's API.

    tables.py      the table declarations
    engine.py      URLs, drivers, SQLite's pragmas, read and write transactions
    translate.py   database errors as one-line `StoreError`s (the password hidden), deadlock retries
    migrate.py     the schema's revision: checked and upgraded when an engine opens (`open_engine`)
    runlog.py      the run log (`export_runs`)
    frames.py      a typed frame checked and turned into plain column lists for the drivers
    bulk.py        bulk write paths: executemany, COPY, and each dialect's upsert
    days.py        the day-claim protocol: one day's snapshot replaced as a whole
    tag_nights.py  tag history as validity intervals: a night's changes, any night's inventory
    audit.py       the org's audit log, each event once
    access_nights.py  access history as validity intervals: a night's changes, any nights read back
                   (its `access_nights` reader is not re-exported here: the name is the module's)
    forget.py      one night removed from every history, in one transaction
    forget_person.py  a former member's name and email erased (an erasure request), in one transaction

Timestamp text (`timestamps`) and the history guard (`guard`) live beside the store: the first is
shared with the CSV and the reports, the second is a rule about snapshots, not storage.
"""

from . import audit
from .access_nights import (
    AccessNightSummary,
    StoredAccessNight,
    access_night_list,
    newest_access_night,
    read_access_night,
    write_access_night,
)
from .days import (
    PreviousSnapshot,
    SnapshotSummary,
    previous_snapshot,
    repository_fields,
    upsert_snapshot,
    write_snapshot,
)
from .engine import analyze, database_url, reading, writing
from .forget import ForgetSummary, forget_night
from .migrate import (
    SCHEMA_REVISION,
    VERSION_TABLE,
    current_revision,
    head_revision,
    open_engine,
    upgrade_database,
)
from .runlog import RUN_STATUSES, finish_run, start_run
from .tables import DATA_COLUMNS, KEY_COLUMNS, export_runs, metadata, repository_snapshots, snapshots
from .tag_nights import (
    TAG_COLUMNS,
    TagNight,
    TagNightSummary,
    last_fetched,
    newest_tag_night,
    tag_inventory,
    tag_inventory_columns,
    tag_night_list,
    tag_storage_totals,
    write_tag_night,
)
from .translate import no_snapshots, redact

__all__ = [
    "audit",
    "AccessNightSummary",
    "StoredAccessNight",
    "access_night_list",
    "newest_access_night",
    "read_access_night",
    "write_access_night",
    "ForgetSummary",
    "forget_night",
    "DATA_COLUMNS",
    "KEY_COLUMNS",
    "RUN_STATUSES",
    "SCHEMA_REVISION",
    "TAG_COLUMNS",
    "VERSION_TABLE",
    "PreviousSnapshot",
    "SnapshotSummary",
    "TagNight",
    "TagNightSummary",
    "analyze",
    "current_revision",
    "database_url",
    "export_runs",
    "finish_run",
    "head_revision",
    "last_fetched",
    "metadata",
    "newest_tag_night",
    "no_snapshots",
    "open_engine",
    "previous_snapshot",
    "repository_fields",
    "reading",
    "redact",
    "repository_snapshots",
    "snapshots",
    "start_run",
    "tag_inventory",
    "tag_inventory_columns",
    "tag_night_list",
    "tag_storage_totals",
    "upgrade_database",
    "upsert_snapshot",
    "write_snapshot",
    "write_tag_night",
    "writing",
]
