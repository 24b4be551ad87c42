"""The history guard: refuse a snapshot that looks like a broken token or a partial listing rather than
a real change of the org.

The Hub answers 200 either way: a token that lost its repository-list scope silently sees public
repositories only, and a listing cut short looks like deleted repositories. Compared with the org's
latest snapshot before this one, the guard flags every private repository gone, or the count down by
more than half. `check` is the rule; `check_history` applies it to the stored previous snapshot.
"""

from datetime import date
from typing import TYPE_CHECKING

from .errors import HistoryGuardError
from .store import PreviousSnapshot, previous_snapshot
from .store.frames import private_count

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

DROP_THRESHOLD = 0.5


def check(
    previous: PreviousSnapshot | None,
    org: str,
    snapshot_date: date,
    count: int,
    private: int,
    *,
    allow_drop: bool = False,
    drop_threshold: float = DROP_THRESHOLD,
) -> list[str]:
    """The findings about a snapshot of ``count`` repositories (``private`` of them private).

    Raises `HistoryGuardError` naming them; with ``allow_drop`` they are returned as warnings instead.
    """
    if previous is None:
        return []
    day = snapshot_date.isoformat()
    before = previous.snapshot_date.isoformat()
    findings: list[str] = []
    if previous.private > 0 and private == 0:
        findings.append(
            f"{org} {day}: the token lost access to private repositories (the Hub still answers 200): "
            f"{previous.private} of {previous.repositories} were private on {before}, none of {count} now"
        )
    if previous.repositories > 0 and (previous.repositories - count) / previous.repositories > drop_threshold:
        fell = (previous.repositories - count) / previous.repositories
        findings.append(
            f"{org} {day}: the repository count fell {fell:.0%} from {previous.repositories} on {before} "
            f"to {count}, more than the {drop_threshold:.0%} the guard allows"
        )
    if findings and not allow_drop:
        raise HistoryGuardError(
            "; ".join(findings) + "; snapshot not stored: check the token's scope, or pass --allow-drop "
            "if the repositories really went away"
        )
    return findings


def check_history(
    engine: "sa.Engine",
    org: str,
    snapshot_date: date,
    frame: "pd.DataFrame",
    *,
    allow_drop: bool = False,
    drop_threshold: float = DROP_THRESHOLD,
) -> list[str]:
    """`check` of ``frame`` against the org's stored snapshot before ``snapshot_date``."""
    return check(
        previous_snapshot(engine, org, snapshot_date), org, snapshot_date, len(frame), private_count(frame),
        allow_drop=allow_drop, drop_threshold=drop_threshold,
    )  # fmt: skip
