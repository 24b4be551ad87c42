"""A year of history: `backfill` 365 daily CSVs, then `trends` over the year and `history` of one repository.

    python bench/history.py [--quick] [--backend sqlite|postgres|both] [--postgres URL] [--keep DIR]
                            [--compare REV]

Generates 365 daily CSVs × 10,000 repositories = 3.65 M rows (--quick: 60 days × 2,000) in the
reference script's format (jq @csv: ``"acme","repo-00001",false,"2025-...Z",123,4`` under the quoted
six-column header), named ``repos-YYYY-MM-DD.csv``, with realistic day-to-day changes: every pull count
grows at its own rate, stars now and then, a few pushes a day move ``last_updated``, two repositories
are added and two removed each day, two flip visibility. The generator keeps the truth.

Then, on SQLite (the embedded default) and on PostgreSQL, all as whole commands:

* backfill — `dockerhub-export backfill --org acme --database-url URL DIR` vs. a raw loader (its own
  process: `csv.reader` + `sqlite3.executemany`, resp. psycopg `COPY`, into the same schema, one
  transaction per day);
* trends   — `dockerhub-export trends --org acme --database-url URL --format json` (first day vs. last)
  vs. the same two-day comparison as one raw SQL query in a bare `python -c` (sqlite3 / psycopg);
* history  — `dockerhub-export history --org acme --repo NAME --database-url URL --format json` vs. a
  raw `SELECT ... WHERE namespace = ? AND name = ? ORDER BY snapshot_date` in a bare `python -c`.

On PostgreSQL the queries are timed again after a manual ANALYZE (a server with autovacuum off, or one
that has not analyzed yet after the bulk load, plans the two-day join as a nested loop).

With ``--compare REV``: REV's code (`common.revision`, PYTHONPATH) backfills the same files into its own
database right after each current backfill (2 pairs; --quick 1), and runs `trends` and `history` on it
interleaved with the current code's (same repetitions; their JSON must be identical); current / REV,
PASS ≤ 1.10.

Checks: the trends deltas of the biggest movers, the added / removed / visibility-flipped names and one
repository's full history against the generator's truth; the query commands never import Prefect.
Targets (SQLite): backfill ≥ 100,000 rows/s, trends ≤ 3 s, history ≤ 1.5 s.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import common
from common import CLI, ORG, PY, clean_env, median, require_ok, run_timed, table, verdict

END = date(2026, 11, 27)
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HEADER = '"namespace","name","is_private","last_updated","pull_count","star_count"\n'


# -- the generator ----------------------------------------------------------------------------------------


@dataclass
class Truth:
    days: list[date]
    rows: int = 0
    first: dict[str, tuple[bool, int, int]] = field(default_factory=dict)  # name -> (private, pulls, stars)
    last: dict[str, tuple[bool, int, int]] = field(default_factory=dict)
    tracked: dict[str, list[tuple[str, bool, int, int, str]]] = field(default_factory=dict)  # full history


def _stamp(epoch: float) -> str:
    whole = int(epoch)
    micro = int((epoch - whole) * 1_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    fraction = f"{micro:06d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def generate(directory: Path, days: int, n: int, *, seed: int = 11, churn: int = 2, flips: int = 2) -> Truth:
    """Write ``days`` CSVs of about ``n`` repositories into ``directory``; return the truth."""
    rnd = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    start = END - timedelta(days=days - 1)
    names: list[str] = []
    state: dict[str, list[Any]] = {}  # name -> [private, last_updated, pulls, stars, rate]
    next_id = 0

    def add() -> None:
        nonlocal next_id
        name = f"repo-{next_id:05d}"
        next_id += 1
        names.append(name)
        born = time.mktime(start.timetuple()) - rnd.random() * 3 * 365 * 86400
        rate = int(10 ** (rnd.random() * 4))  # 1 .. 10,000 pulls a day
        state[name] = [
            rnd.random() < 1 / 3,
            _stamp(born),
            int(rate * rnd.random() * 500),
            int(rnd.random() * 50),
            rate,
        ]

    for _ in range(n):
        add()
    tracked = {names[1], names[n // 2], names[-1]}
    truth = Truth(days=[start + timedelta(days=i) for i in range(days)])
    truth.tracked = {name: [] for name in tracked}
    for index, day in enumerate(truth.days):
        if index:
            for _ in range(churn):  # removals (never a tracked one), then additions
                while True:
                    victim = rnd.randrange(len(names))
                    if names[victim] not in tracked:
                        break
                name = names[victim]
                names[victim] = names[-1]
                names.pop()
                del state[name]
            for _ in range(churn):
                add()
            for _ in range(flips):
                flipped = state[names[rnd.randrange(len(names))]]
                flipped[0] = not flipped[0]
            midnight = time.mktime(day.timetuple()) - time.timezone
            random_ = rnd.random
            for values in state.values():
                values[2] += values[4] + int(random_() * values[4])  # pulls only grow
                r = random_()
                if r < 0.01:
                    values[3] += 1
                elif r < 0.03:  # a push today
                    values[1] = _stamp(midnight + r * 86400 * 30)
        with open(directory / f"repos-{day.isoformat()}.csv", "w", encoding="utf-8", newline="") as out:
            out.write(HEADER)
            out.writelines(
                f'"{ORG}","{name}",{"true" if v[0] else "false"},"{v[1]}",{v[2]},{v[3]}\n'
                for name, v in sorted(state.items())
            )
        truth.rows += len(state)
        for name in tracked:
            v = state[name]
            truth.tracked[name].append((day.isoformat(), v[0], v[2], v[3], v[1]))
        if index == 0:
            truth.first = {name: (v[0], v[2], v[3]) for name, v in state.items()}
    truth.last = {name: (v[0], v[2], v[3]) for name, v in state.items()}
    return truth


# -- raw baselines (each its own process, like the commands) ---------------------------------------------

RAW_SQLITE_LOAD = r"""
import csv, sqlite3, sys
from pathlib import Path
db, org, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=NORMAL")
con.execute("PRAGMA cache_size=-65536")
sql = ("INSERT INTO repository_snapshots (namespace, snapshot_date, name, write_id, is_private, "
       "last_updated, pull_count, star_count) VALUES (?, ?, ?, 1, ?, ?, ?, ?)")
def ts(v):
    if not v: return None
    frac = v[20:-1] if len(v) > 20 else ""
    return f"{v[:10]} {v[11:19]}.{frac.ljust(6, '0')[:6]}"
total = 0
for path in sorted(folder.glob("repos-*.csv")):
    day = path.stem[6:]
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle); next(reader)
        rows = [(org, day, r[1], 1 if r[2] == "true" else 0, ts(r[3]), int(r[4]), int(r[5])) for r in reader]
    con.execute("BEGIN")
    con.execute("INSERT INTO snapshots (namespace, snapshot_date, write_id, repositories, private, "
                "written_at) VALUES (?, ?, 1, ?, ?, '2026-11-27 00:00:00.000000')",
                (org, day, len(rows), sum(r[3] for r in rows)))
    con.executemany(sql, rows)
    con.execute("COMMIT")
    total += len(rows)
print(total)
"""

RAW_PG_LOAD = r"""
import csv, sys, psycopg
from datetime import date, datetime, timezone
from pathlib import Path
dsn, org, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
total = 0
with psycopg.connect(dsn) as con:
    for path in sorted(folder.glob("repos-*.csv")):
        day = date.fromisoformat(path.stem[6:])
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle); next(reader)
            rows = [(org, day, r[1], 1, r[2] == "true", r[3][:-1] or None, int(r[4]), int(r[5]))
                    for r in reader]
        con.execute("INSERT INTO snapshots (namespace, snapshot_date, write_id, repositories, private, "
                    "written_at) VALUES (%s, %s, 1, %s, %s, now())",
                    (org, day, len(rows), sum(r[4] for r in rows)))
        with con.cursor().copy("COPY repository_snapshots (namespace, snapshot_date, name, write_id, "
                               "is_private, last_updated, pull_count, star_count) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        con.commit()
        total += len(rows)
print(total)
"""

# The same two-day comparison `trends` answers: both ends side by side, plus the repositories gone by the end.
TRENDS_SQL = """
SELECT e.name, s.pull_count, e.pull_count, e.pull_count - s.pull_count, s.star_count, e.star_count,
       s.is_private, e.is_private
FROM repository_snapshots e LEFT JOIN repository_snapshots s
  ON s.namespace = e.namespace AND s.snapshot_date = {first} AND s.name = e.name
WHERE e.namespace = {org} AND e.snapshot_date = {last}
UNION ALL
SELECT s.name, s.pull_count, NULL, NULL, s.star_count, NULL, s.is_private, NULL
FROM repository_snapshots s
WHERE s.namespace = {org} AND s.snapshot_date = {first} AND NOT EXISTS (
  SELECT 1 FROM repository_snapshots e2
  WHERE e2.namespace = {org} AND e2.snapshot_date = {last} AND e2.name = s.name)
ORDER BY 4 DESC
"""

RAW_QUERY = r"""
import json, sys
kind, driver, url, org, arg = sys.argv[1:6]
if driver == "sqlite":
    import sqlite3
    con = sqlite3.connect(url); p = "?"
else:
    import psycopg
    con = psycopg.connect(url); p = "%s"
cur = con.cursor()
if kind == "history":
    cur.execute(f"SELECT snapshot_date, pull_count, star_count, is_private, last_updated "
                f"FROM repository_snapshots WHERE namespace = {p} AND name = {p} ORDER BY snapshot_date",
                (org, arg))
else:
    cur.execute(f"SELECT min(snapshot_date), max(snapshot_date) FROM snapshots WHERE namespace = {p}", (org,))
    first, last = cur.fetchone()
    sql = arg.format(first=p, last=p, org=p)
    cur.execute(sql, (first, org, last, org, first, org, last))
rows = cur.fetchall()
def plain(v):
    return str(v) if v is not None and not isinstance(v, (int, float, str, bool)) else v
json.dump([[plain(v) for v in r] for r in rows], sys.stdout)
"""

PREFECT_CHECK = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('\\nPREFECT_IMPORTED=%s\\n' % any("
    "m == 'prefect' or m.startswith('prefect.') for m in sys.modules)))\n"
    "sys.argv = ['dockerhub-export'] + sys.argv[1:]\n"
    "from dockerhub_export.cli import main\n"
    "main()\n"
)


# -- measurements -------------------------------------------------------------------------------------------


def _comparable(stdout: str) -> Any:
    """A command's output as REV and the current code must agree on it: `trends`' added, removed and
    visibility_changed entries as their names (objects with ``by``/``at`` since issue 11, names before;
    the bench's history has no audit log to attribute anything)."""
    try:
        data = json.loads(stdout)
    except ValueError:
        return stdout
    if isinstance(data, dict):
        for key in ("added", "removed"):
            if isinstance(data.get(key), list):
                data[key] = _names(data[key])
    return data


def timed_pair(
    project: list[str],
    baseline: list[str],
    env: dict[str, str],
    repeats: int,
    old: tuple[list[str], dict[str, str]] | None = None,
) -> tuple[list[float], list[float], str, list[float]]:
    """Interleaved whole-command timings of project, baseline (and the project on REV's code, ``old``:
    its command and environment); the project's last stdout."""
    p: list[float] = []
    b: list[float] = []
    o: list[float] = []
    out = ""
    require_ok(run_timed(project, env=env), " ".join(project[:2]))  # warm the page cache
    require_ok(run_timed(baseline, env=env), "baseline query")
    if old:
        require_ok(run_timed(old[0], env=old[1]), " ".join(old[0][:2]) + " on REV")
    for _ in range(repeats):
        result = require_ok(run_timed(project, env=env), " ".join(project[:2]))
        p.append(result.seconds)
        out = result.stdout
        if old:
            again = require_ok(run_timed(old[0], env=old[1]), " ".join(old[0][:2]) + " on REV")
            o.append(again.seconds)
            if _comparable(again.stdout) != _comparable(result.stdout):
                raise RuntimeError(f"{' '.join(old[0][:2])}: REV's output differs from the current code's")
        b.append(require_ok(run_timed(baseline, env=env), "baseline query").seconds)
    return p, b, out, o


def imports_prefect(args: list[str], env: dict[str, str]) -> bool:
    result = subprocess.run([PY, "-c", PREFECT_CHECK, *args], capture_output=True, text=True, env=env)
    return "PREFECT_IMPORTED=True" in result.stderr


def check_trends(report: dict[str, Any], truth: Truth) -> str:
    """Deltas of the five biggest movers, added / removed / visibility flips vs. the generator's truth."""
    rows = {row["name"]: row for row in report.get("repositories", [])}
    both = [name for name in truth.last if name in truth.first]
    movers = sorted(both, key=lambda name: truth.last[name][1] - truth.first[name][1], reverse=True)[:5]
    problems = []
    for name in movers:
        want = truth.last[name][1] - truth.first[name][1]
        got = rows.get(name, {}).get("pulls_delta")
        if got != want:
            problems.append(f"{name}: pulls_delta {got} != {want}")
        stars = truth.last[name][2] - truth.first[name][2]
        if rows.get(name, {}).get("stars_delta") != stars:
            problems.append(f"{name}: stars_delta {rows.get(name, {}).get('stars_delta')} != {stars}")
    added = sorted(set(truth.last) - set(truth.first))
    removed = sorted(set(truth.first) - set(truth.last))
    if _names(report.get("added", [])) != added:
        problems.append(f"added: {len(report.get('added', []))} names != {len(added)}")
    if _names(report.get("removed", [])) != removed:
        problems.append(f"removed: {len(report.get('removed', []))} names != {len(removed)}")
    flipped = sorted(name for name in both if truth.first[name][0] != truth.last[name][0])
    got_flipped = sorted(item.get("name", "") for item in report.get("visibility_changed", []))
    if got_flipped != flipped:
        problems.append(f"visibility_changed: {len(got_flipped)} names != {len(flipped)}")
    if problems:
        return "MISMATCH: " + "; ".join(problems[:5])
    return (
        f"OK: top-5 movers' pull/star deltas, {len(added)} added, {len(removed)} removed, "
        f"{len(flipped)} visibility flips match"
    )


def _names(entries: list[Any]) -> list[str]:
    """The sorted names of `trends`' added or removed: objects with a ``name`` since issue 11, plain
    names before (a --compare revision)."""
    return sorted(entry["name"] if isinstance(entry, dict) else entry for entry in entries)


def check_history(records: Any, name: str, truth: Truth) -> str:
    if isinstance(records, dict):
        records = records.get("history") or records.get("snapshots") or records.get("rows") or []
    want = truth.tracked[name]
    got = [(str(r.get("snapshot_date")), r.get("pull_count")) for r in records]
    if got != [(day, pulls) for day, _p, pulls, _s, _l in want]:
        return f"MISMATCH: {name}: {len(got)} days, first {got[:1]} vs {want[:1]}"
    return f"OK: {name}: {len(got)} days, every pull count matches"


def backend(
    label: str,
    url: str,
    raw_target: list[str],
    folder: Path,
    truth: Truth,
    repeats: int,
    env: dict[str, str],
    reset: Any,
    old: common.Revision | None = None,
    quick: bool = False,
) -> tuple[list[list[Any]], dict[str, Any], list[str], list[tuple[str, str, list[float], list[float]]]]:
    rows_total = truth.rows
    notes: list[str] = []
    raw: dict[str, Any] = {}
    compared: list[tuple[str, str, list[float], list[float]]] = []
    # backfill: project (and REV's code into its own database, interleaved), then the raw loader into a
    # second database of the same schema
    backfills: list[float] = []
    old_backfills: list[float] = []
    old_url = ""
    for _ in range(1 if quick or not old else 2):
        reset("project")
        project = require_ok(
            run_timed(
                [CLI, "backfill", "--org", ORG, "--database-url", url, str(folder)], env=env, timeout=1800
            ),
            "dockerhub-export backfill",
        )
        backfills.append(project.seconds)
        print(
            f"  {label} backfill: {project.seconds:.1f} s ({rows_total / project.seconds:,.0f} rows/s)",
            flush=True,
        )
        if old:
            old_url = reset("old")
            again = require_ok(
                run_timed(
                    [CLI, "backfill", "--org", ORG, "--database-url", old_url, str(folder)],
                    env=old.env(env),
                    timeout=1800,
                ),
                f"dockerhub-export backfill on {old.rev}",
            )
            old_backfills.append(again.seconds)
            print(f"  {label} backfill on {old.rev}: {again.seconds:.1f} s", flush=True)
    if old:
        compared.append(
            (f"{label} backfill (whole command, {rows_total:,} rows)", "s", backfills, old_backfills)
        )
        raw["backfill_all"], raw["backfill_old"] = backfills, old_backfills
    raw_url = reset("raw")
    baseline = require_ok(
        run_timed([PY, "-c", raw_target[0], raw_target[1], ORG, str(folder)], env=env, timeout=1800),
        "raw loader",
    )
    assert baseline.stdout.strip() == str(rows_total), baseline.stdout
    raw["backfill"] = project.seconds
    raw["backfill_raw"] = baseline.seconds
    rate = rows_total / project.seconds
    lines = [
        [
            label,
            "backfill (whole command)",
            project.seconds,
            f"{rate:,.0f} rows/s",
            baseline.seconds,
            project.seconds / baseline.seconds,
            f"{verdict(rate >= 100_000)} ≥ 100,000 rows/s" if label == "SQLite" else "",
        ]
    ]
    lines.append(
        [
            label,
            "  raw loader (baseline)",
            baseline.seconds,
            f"{rows_total / baseline.seconds:,.0f} rows/s",
            baseline.seconds,
            1.0,
            "",
        ]
    )
    print(f"  {label} raw loader: {baseline.seconds:.1f} s", flush=True)

    driver = "sqlite" if label == "SQLite" else "postgres"
    # trends
    trends_cmd = [CLI, "trends", "--org", ORG, "--database-url", url, "--format", "json"]
    trends_old = ([*trends_cmd[:5], old_url, *trends_cmd[6:]], old.env(env)) if old else None
    p, b, out, o = timed_pair(
        trends_cmd,
        [PY, "-c", RAW_QUERY, "trends", driver, raw_url, ORG, TRENDS_SQL],
        env,
        repeats,
        trends_old,
    )
    if old:
        compared.append((f"{label} trends over the whole year (json)", "s", p, o))
        raw["trends_old"] = o
    report = json.loads(out)
    notes.append(f"{label} trends check: {check_trends(report, truth)}")
    lines.append(
        [
            label,
            "trends over the whole year (json)",
            median(p),
            "",
            median(b),
            median(p) / median(b),
            f"{verdict(median(p) <= 3)} ≤ 3 s" if label == "SQLite" else "",
        ]
    )
    raw["trends"], raw["trends_raw"] = p, b
    # history
    name = sorted(truth.tracked)[1]
    history_cmd = [CLI, "history", "--org", ORG, "--repo", name, "--database-url", url, "--format", "json"]
    history_old = ([*history_cmd[:7], old_url, *history_cmd[8:]], old.env(env)) if old else None
    p, b, out, o = timed_pair(
        history_cmd, [PY, "-c", RAW_QUERY, "history", driver, raw_url, ORG, name], env, repeats, history_old
    )
    if old:
        compared.append((f"{label} history of one repository (json)", "s", p, o))
        raw["history_old"] = o
    notes.append(f"{label} history check: {check_history(json.loads(out), name, truth)}")
    lines.append(
        [
            label,
            f"history of {name} (json)",
            median(p),
            "",
            median(b),
            median(p) / median(b),
            f"{verdict(median(p) <= 1.5)} ≤ 1.5 s" if label == "SQLite" else "",
        ]
    )
    raw["history"], raw["history_raw"] = p, b
    if label == "PostgreSQL":
        # The same queries once the planner has statistics: a server with autovacuum off (as here) or
        # lagging behind a bulk load plans the two-day join for 6 rows and runs a nested loop.
        analyzed = _pg_analyzed(notes, url, raw_url, *([old_url] if old else []))
        if analyzed:
            p, b, _, o = timed_pair(
                trends_cmd,
                [PY, "-c", RAW_QUERY, "trends", driver, raw_url, ORG, TRENDS_SQL],
                env,
                repeats,
                trends_old,
            )
            lines.append(
                [label, "trends, after ANALYZE", median(p), "", median(b), median(p) / median(b), ""]
            )
            raw["trends_analyzed"], raw["trends_raw_analyzed"] = p, b
            if old:
                compared.append((f"{label} trends, after ANALYZE", "s", p, o))
                raw["trends_old_analyzed"] = o
            p, b, _, o = timed_pair(
                history_cmd,
                [PY, "-c", RAW_QUERY, "history", driver, raw_url, ORG, name],
                env,
                repeats,
                history_old,
            )
            lines.append(
                [label, "history, after ANALYZE", median(p), "", median(b), median(p) / median(b), ""]
            )
            raw["history_analyzed"], raw["history_raw_analyzed"] = p, b
            if old:
                compared.append((f"{label} history, after ANALYZE", "s", p, o))
                raw["history_old_analyzed"] = o
    if label == "SQLite":
        for cmd in (trends_cmd, history_cmd):
            imported = imports_prefect(cmd[1:], env)
            notes.append(
                f"`dockerhub-export {cmd[1]}` imports Prefect: {'yes' if imported else 'no'} "
                f"({verdict(not imported)})"
            )
    return lines, raw, notes, compared


def _pg_analyzed(notes: list[str], *urls: str) -> bool:
    """ANALYZE both databases; notes whether autovacuum had already done it."""
    import psycopg
    import sqlalchemy as sa

    for url in urls:
        dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as connection:
            stats = connection.execute(
                "SELECT last_autoanalyze IS NOT NULL, current_setting('autovacuum') FROM pg_stat_user_tables "
                "WHERE relname = 'repository_snapshots'"
            ).fetchone()
            connection.execute("ANALYZE")
    notes.append(
        f"PostgreSQL: autovacuum={stats[1]}, repository_snapshots auto-analyzed before the queries: "
        f"{'yes' if stats[0] else 'no'}; the 'after ANALYZE' rows ran a manual ANALYZE first"
    )
    return True


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument(
            "--postgres", default=DEFAULT_PG, help="SQLAlchemy URL of a PostgreSQL server to use"
        )
        parser.add_argument("--no-postgres", action="store_true")
        parser.add_argument("--keep", type=Path, help="generate the CSVs here and keep them")
        parser.add_argument(
            "--backend",
            choices=["sqlite", "postgres", "both"],
            default="both",
            help="which databases to measure (each alone stays under ~10 minutes)",
        )

    args = common.parse_args(__doc__.splitlines()[0], extra)
    print(common.machine(), flush=True)
    days, n = (60, 2_000) if args.quick else (365, 10_000)
    repeats = 3 if args.quick else 5
    work = Path(tempfile.mkdtemp(prefix="bench-history-"))
    folder = args.keep or work / "csv"
    started = time.perf_counter()
    truth = generate(folder, days, n)
    print(f"generated {days} CSVs, {truth.rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    env = clean_env()
    rows: list[list[Any]] = []
    notes: list[str] = []
    raw: dict[str, Any] = {"rows": truth.rows, "days": days, "repositories": n, "compare": args.compare}
    compared: list[tuple[str, str, list[float], list[float]]] = []
    revision = common.revision(args.compare)
    old = revision.__enter__()
    try:
        from dockerhub_export import store

        def sqlite_reset(which: str) -> str:
            path = work / f"{which}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            if which == "raw":
                store.open_engine(f"sqlite:///{path}").dispose()  # same schema and indexes
                return str(path)
            return f"sqlite:///{path}"

        if args.backend in ("sqlite", "both"):
            url = f"sqlite:///{work / 'project.db'}"
            lines, raw["sqlite"], extra_notes, more = backend(
                "SQLite",
                url,
                [RAW_SQLITE_LOAD, str(work / "raw.db")],
                folder,
                truth,
                repeats,
                env,
                sqlite_reset,
                old,
                args.quick,
            )
            rows += lines
            notes += extra_notes
            compared += more
        if not args.no_postgres and args.backend in ("postgres", "both"):
            import sqlalchemy as sa
            from snapshots import pg_reset

            def postgres_reset(which: str) -> str:
                target = pg_reset(args.postgres, f"dhe_bench_history_{which}")
                if which == "raw":
                    store.open_engine(target).dispose()
                    return (
                        sa.make_url(target).set(drivername="postgresql").render_as_string(hide_password=False)
                    )
                return target

            pg_url = (
                sa.make_url(args.postgres)
                .set(database="dhe_bench_history_project")
                .render_as_string(hide_password=False)
            )
            raw_dsn = sa.make_url(args.postgres).set(
                drivername="postgresql", database="dhe_bench_history_raw"
            )
            lines, raw["postgres"], extra_notes, more = backend(
                "PostgreSQL",
                pg_url,
                [RAW_PG_LOAD, raw_dsn.render_as_string(hide_password=False)],
                folder,
                truth,
                repeats,
                env,
                postgres_reset,
                old,
                args.quick,
            )
            rows += lines
            notes += extra_notes
            compared += more
    finally:
        revision.__exit__(None, None, None)
        shutil.rmtree(work, ignore_errors=True)
        if not args.no_postgres and args.backend in ("postgres", "both"):
            from snapshots import pg_drop

            pg_drop(
                args.postgres, "dhe_bench_history_project", "dhe_bench_history_raw", "dhe_bench_history_old"
            )
    table(
        f"A year of history: {days} days × {n:,} repositories = {truth.rows:,} rows "
        f"(queries: median of {repeats})",
        ["database", "command", "seconds", "throughput", "raw baseline s", "× baseline", "target"],
        rows,
    )
    if old:
        common.compare_table(old, f"A year of history ({truth.rows:,} rows)", compared)
    print()
    for note in notes:
        print(note)
    path = common.save("history", raw)
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
