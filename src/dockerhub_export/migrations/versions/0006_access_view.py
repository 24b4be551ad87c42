"""The effective access as a view for BI tools: `latest_access`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

    latest_access  namespace, repository, username, permission, role, teams, snapshot_date

What `access.effective_access` gives (the access CSV of the night) for each org's newest access night
that has both the members and the permissions listings, on the repositories of that night's snapshot:
owners and editors admin on every repository with empty teams; invitees nothing; a member, on each
repository, the highest permission of their teams there, `teams` the teams granting that level, sorted
and joined with ';'; a read on a public repository is not listed (a visibility the Hub left unknown
counts as public, as in the night's CSV). `snapshot_date` is that night.

It reads the versions valid on that night (valid_from <= night < valid_to, or still open), so that a
later night that could read only one of the two listings leaves the view on the older night, whole.
The team memberships come from the night's team listings, or, on a night without them, from the members'
own teams (the member listing's groups), as `AccessNight.memberships` does.

Revision 0005 left it out as too slow on SQLite (more than two minutes at 3,000 repositories and 300
members): its formulation looked for each (member, repository)'s best permission by walking the open
permissions once per candidate. This one joins each valid permission to its team's members and each
member by primary key (CROSS JOIN on SQLite and STRAIGHT_JOIN on MariaDB keep that order where the
planner lacks statistics), then aggregates once per (repository, member): SQLite's group_concat takes no
ORDER BY before 3.44, so there the teams are joined by a window in team order; PostgreSQL sorts them in
"C" order whatever the database's collation. docs/benchmarks.md has the figures.

The SQL is copied here from `store.tables` as it shipped, so that this revision keeps creating exactly
what it created.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NIGHT = """
        FROM (SELECT namespace, MAX(snapshot_date) AS snapshot_date FROM access_nights
              WHERE members IS NOT NULL AND permissions IS NOT NULL
              GROUP BY namespace) d"""
_VALID = """
          ON {t}.namespace = d.namespace AND {t}.valid_from <= d.snapshot_date
         AND ({t}.valid_to IS NULL OR {t}.valid_to > d.snapshot_date)"""
_GRANTS = """
        SELECT d.namespace AS namespace, p.repository AS repository, m.username AS username,
               m.role AS role, {team} AS team, p.permission AS permission, r.is_private AS is_private,
               d.snapshot_date AS snapshot_date{night}
        JOIN access_nights n
          ON n.namespace = d.namespace AND n.snapshot_date = d.snapshot_date AND n.teams IS {listed}{joins}
        JOIN repository_snapshots r
          ON r.namespace = d.namespace AND r.snapshot_date = d.snapshot_date AND r.name = p.repository
        WHERE m.role NOT IN ('owner', 'editor', 'invitee')"""
_TEAM_LISTED = """
        JOIN access_permissions p{p}
        {join} access_team_members t{t} AND t.team = p.team
        {join} access_members m{m} AND m.username = t.username"""
_OWN_TEAMS = """
        JOIN access_members m{m}
        JOIN access_permissions p{p} AND {contains}"""
_JOIN = {"sqlite": "CROSS JOIN", "postgresql": "JOIN", "mysql": "STRAIGHT_JOIN"}
_CONTAINS = {
    "sqlite": "instr(';' || m.teams || ';', ';' || p.team || ';') > 0",
    "postgresql": "strpos(';' || m.teams || ';', ';' || p.team || ';') > 0",
    "mysql": "INSTR(CAST(CONCAT(';', m.teams, ';') AS BINARY), CAST(CONCAT(';', p.team, ';') AS BINARY)) > 0",
}
_ACCESS = """
        SELECT d.namespace AS namespace, r.name AS repository, m.username AS username,
               'admin' AS permission, m.role AS role, '' AS teams, d.snapshot_date AS snapshot_date{night}
        JOIN access_members m{m}
        JOIN repository_snapshots r ON r.namespace = d.namespace AND r.snapshot_date = d.snapshot_date
        WHERE m.role IN ('owner', 'editor')
        UNION ALL
        SELECT b.namespace, b.repository, b.username,
               CASE WHEN b.admin_teams IS NOT NULL THEN 'admin'
                    WHEN b.write_teams IS NOT NULL THEN 'write' ELSE 'read' END,
               b.role, COALESCE(b.admin_teams, b.write_teams, b.read_teams), b.snapshot_date
        FROM ({levels}) b
        WHERE b.admin_teams IS NOT NULL OR b.write_teams IS NOT NULL
           OR (b.read_teams IS NOT NULL AND b.is_private = TRUE)"""
_KEYS = "c.namespace, c.repository, c.username, c.role, c.is_private, c.snapshot_date"
_LEVELS = {
    "sqlite": """
        SELECT s.namespace, s.repository, s.username, s.role, s.is_private, s.snapshot_date,
               s.admin_teams, s.write_teams, s.read_teams
        FROM (SELECT {keys}, row_number() OVER w AS k,
                group_concat(CASE WHEN c.permission = 'admin' THEN c.team END, ';') OVER w AS admin_teams,
                group_concat(CASE WHEN c.permission = 'write' THEN c.team END, ';') OVER w AS write_teams,
                group_concat(CASE WHEN c.permission = 'read' THEN c.team END, ';') OVER w AS read_teams
              FROM ({candidates}) c
              WINDOW w AS (PARTITION BY c.namespace, c.repository, c.username ORDER BY c.team
                           ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) s
        WHERE s.k = 1""",
    "postgresql": """
        SELECT {keys},
               string_agg(CASE WHEN c.permission = 'admin' THEN c.team END, ';' ORDER BY c.team COLLATE "C")
                 AS admin_teams,
               string_agg(CASE WHEN c.permission = 'write' THEN c.team END, ';' ORDER BY c.team COLLATE "C")
                 AS write_teams,
               string_agg(CASE WHEN c.permission = 'read' THEN c.team END, ';' ORDER BY c.team COLLATE "C")
                 AS read_teams
        FROM ({candidates}) c
        GROUP BY {keys}""",
    "mysql": """
        SELECT {keys},
               GROUP_CONCAT(CASE WHEN c.permission = 'admin' THEN c.team END ORDER BY c.team SEPARATOR ';')
                 AS admin_teams,
               GROUP_CONCAT(CASE WHEN c.permission = 'write' THEN c.team END ORDER BY c.team SEPARATOR ';')
                 AS write_teams,
               GROUP_CONCAT(CASE WHEN c.permission = 'read' THEN c.team END ORDER BY c.team SEPARATOR ';')
                 AS read_teams
        FROM ({candidates}) c
        GROUP BY {keys}""",
}


def _latest_access(dialect: str) -> str:
    valid = {alias: _VALID.format(t=alias) for alias in "ptm"}
    listed = _TEAM_LISTED.format(join=_JOIN[dialect], **valid)
    own = _OWN_TEAMS.format(contains=_CONTAINS[dialect], **valid)
    candidates = "\n        UNION ALL".join(
        _GRANTS.format(team=team, night=_NIGHT, listed=flag, joins=joins)
        for team, flag, joins in (("t.team", "NOT NULL", listed), ("p.team", "NULL", own))
    )
    levels = _LEVELS[dialect].format(keys=_KEYS, candidates=candidates)
    return _ACCESS.format(night=_NIGHT, m=valid["m"], levels=levels)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(
        f"CREATE VIEW latest_access AS {_latest_access('mysql' if dialect == 'mariadb' else dialect).strip()}"
    )


def downgrade() -> None:
    op.execute("DROP VIEW latest_access")
