"""Run log: a warnings column and an index by (namespace, snapshot_date).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

The index serves "the runs of this org and day" (the flow's and an operator's question) without
scanning the whole log.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("export_runs", sa.Column("warnings", sa.Text))
    op.create_index("ix_export_runs_namespace_snapshot_date", "export_runs", ["namespace", "snapshot_date"])


def downgrade() -> None:
    op.drop_index("ix_export_runs_namespace_snapshot_date", table_name="export_runs")
    op.drop_column("export_runs", "warnings")
