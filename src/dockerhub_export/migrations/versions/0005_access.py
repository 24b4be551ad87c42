"""Access history: members, teams, team memberships, repository team permissions and org access tokens
as validity intervals, a header per night saying which listings it has, and views for BI tools.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

Views, in plain SQL that SQLite, PostgreSQL and MariaDB all read, each over the open versions (the
state of the org's newest night that has the listing; a later night without it leaves them), with that
night's date as snapshot_date:

    latest_members       namespace, username, full_name, email, role, is_guest, teams, date_joined
    latest_team_members  namespace, team, username
    latest_permissions   namespace, repository, team, permission

Effective access (`latest_access`) has no view: it is computed from a night (`access.effective_access`).
A portable formulation exists (owners and editors x the newest snapshot's repositories, UNION each
member's best team permission, one row per granting team, as a list of teams needs string aggregation,
spelled differently on each backend), but on SQLite at 3,000 repositories and 300 members it did not
end within two minutes: the best permission per (user, repository) walks the open permissions once per
candidate, and an index on (namespace, team) for it would cost every night's write.

Types are spelled out (not imported from `store`) so that this revision keeps creating exactly what it
created when it shipped.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = sa.String(255).with_variant(mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb")
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

VIEWS = {
    "latest_members": """
        SELECT t.namespace AS namespace, t.username AS username, t.full_name AS full_name,
               t.email AS email, t.role AS role, t.is_guest AS is_guest, t.teams AS teams,
               t.date_joined AS date_joined,
               (SELECT MAX(n.snapshot_date) FROM access_nights n
                WHERE n.namespace = t.namespace AND n.members IS NOT NULL) AS snapshot_date
        FROM access_members t
        WHERE t.valid_to IS NULL
    """,
    "latest_team_members": """
        SELECT t.namespace AS namespace, t.team AS team, t.username AS username,
               (SELECT MAX(n.snapshot_date) FROM access_nights n
                WHERE n.namespace = t.namespace AND n.teams IS NOT NULL) AS snapshot_date
        FROM access_team_members t
        WHERE t.valid_to IS NULL
    """,
    "latest_permissions": """
        SELECT t.namespace AS namespace, t.repository AS repository, t.team AS team,
               t.permission AS permission,
               (SELECT MAX(n.snapshot_date) FROM access_nights n
                WHERE n.namespace = t.namespace AND n.permissions IS NOT NULL) AS snapshot_date
        FROM access_permissions t
        WHERE t.valid_to IS NULL
    """,
}

# name, key columns (besides namespace and valid_from), value columns
INTERVALS: tuple[tuple[str, tuple[str, ...], tuple[Any, ...]], ...] = (
    (
        "access_members",
        ("username",),
        (
            ("fingerprint", sa.String(32), False),
            ("full_name", sa.Text(), True),
            ("email", sa.Text(), True),
            ("role", sa.String(64), False),
            ("is_guest", sa.Boolean(), False),
            ("teams", sa.Text(), True),
            ("date_joined", sa.Text(), True),
        ),
    ),
    ("access_teams", ("team",), ()),
    ("access_team_members", ("team", "username"), ()),
    ("access_permissions", ("repository", "team"), (("permission", sa.String(16), False),)),
    (
        "access_tokens",
        ("token_id",),
        (
            ("fingerprint", sa.String(32), False),
            ("label", sa.Text(), True),
            ("created_by", sa.Text(), True),
            ("is_active", sa.Boolean(), False),
            ("created_at", sa.Text(), True),
            ("expires_at", sa.Text(), True),
            ("resources", sa.Text(), True),
        ),
    ),
    ("access_token_use", ("token_id",), (("last_used_at", sa.Text(), True),)),
)


def upgrade() -> None:
    op.create_table(
        "access_nights",
        sa.Column("namespace", KEY, nullable=False),
        sa.Column("snapshot_date", sa.Date, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("taken_at", TIMESTAMP),
        sa.Column("written_at", TIMESTAMP, nullable=False),
        sa.Column("members", sa.Integer),
        sa.Column("teams", sa.Integer),
        sa.Column("permissions", sa.Integer),
        sa.Column("tokens", sa.Integer),
        sa.Column("run_id", sa.Integer),
        sa.PrimaryKeyConstraint("namespace", "snapshot_date", name="pk_access_nights"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["export_runs.id"], name="fk_access_nights_run_id_export_runs", ondelete="SET NULL"
        ),
    )
    for name, keys, values in INTERVALS:
        op.create_table(
            name,
            sa.Column("namespace", KEY, nullable=False),
            *(sa.Column(key, KEY, nullable=False) for key in keys),
            sa.Column("valid_from", sa.Date, nullable=False),
            sa.Column("valid_to", sa.Date),
            *(sa.Column(column, kind, nullable=nullable) for column, kind, nullable in values),
            sa.PrimaryKeyConstraint("namespace", *keys, "valid_from", name=f"pk_{name}"),
        )
        op.create_index(f"ix_{name}_namespace_valid_to", name, ["namespace", "valid_to"])
    for name, select in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {select.strip()}")


def downgrade() -> None:
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW {name}")
    for name, _keys, _values in reversed(INTERVALS):
        op.drop_index(f"ix_{name}_namespace_valid_to", table_name=name)
        op.drop_table(name)
    op.drop_table("access_nights")
