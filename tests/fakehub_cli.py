"""``python tests/fakehub.py``: the fake Hub as a server, with its options (``--help``) and ``--day``.

Kept apart from fakehub.py, which the tests import, so that the server's module stays about the server.
"""

from __future__ import annotations

import argparse
import signal
import time
from datetime import UTC, date, datetime

import hubhistory
from fakehub import FakeHub, Faults
from fakehub_access import ACCESS_SCOPES

_DESCRIPTION = """\
Serve a fake Docker Hub API on loopback: one org of generated repositories (a third private), their
tags with --tags, and the org's audit log. Point the exporter at it with
DOCKERHUB_API_URL=http://HOST:PORT and DOCKERHUB_TOKEN=<--token>.

--day N serves the same org N nights later: day 0 is the org as generated, and each later day adds
pulls, a few created and deleted repositories, a visibility change, tag pushes and deletes, and the
audit-log events that record them (one repository a day is deleted and created again, so its pull
count starts over: the one count that falls). Day N is the night of --start-date + N days, so by
default day 1 is today (UTC) and day 0 yesterday. Stop the server and start it with the next --day to
show a second night.

--access adds the org's members (pending invitees included), teams, each repository's team
permissions and the org's access tokens, served as the Hub serves them (members, groups, groups/TEAM/
members, repositories/ORG/REPO/groups, access-tokens). Each later day, invitees accept and people are
invited, leave, change role and move between teams, permissions are granted, changed and revoked, and
tokens are created, deleted, deactivated and used; the audit log records each of those changes for
which Docker has an action (none for a repository permission). The repositories, tags and their events
are the same with or without it. A --token starting dckr_oat_ is an org access token, which may read
everything but the org's tokens (403); any other is an owner's personal access token."""

_EPILOG = """\
example, two nights:
  python tests/fakehub.py --org acme --repos 200 --tags 5 --token demo --day 0
  python tests/fakehub.py --day 0 --print-date       # the --snapshot-date of that night
  python tests/fakehub.py --org acme --repos 200 --tags 5 --token demo --day 1
with access, and a token that may not read it:
  python tests/fakehub.py --org acme --repos 200 --token demo --access --limited-token demo-repos --day 1"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description and epilog keep their lines; an option's help ends with its default unless that
    is None, False or 0 (off, or said in the help)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    """The script's options, each with its help."""
    built = argparse.ArgumentParser(
        prog="fakehub.py", description=_DESCRIPTION, epilog=_EPILOG, formatter_class=_HelpFormatter
    )
    _org_options(built)
    _access_options(built)
    _fault_options(built)
    return built


def _org_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("the org")
    data.add_argument("--org", default="acme", help="the org (namespace) to serve")
    data.add_argument("--repos", type=int, metavar="N", default=1000, help="repositories on day 0")
    data.add_argument(
        "--tags",
        type=int,
        default=0,
        metavar="N",
        help="tags per repository on day 0, every 10th ten times as many (default: 0, none)",
    )
    data.add_argument(
        "--seed", type=int, metavar="N", default=0, help="another seed gives another org (default: 0)"
    )
    data.add_argument(
        "--day", type=int, metavar="N", default=0, help="serve the org on this night (default: 0, the first)"
    )
    data.add_argument(
        "--start-date",
        type=_start_date,
        metavar="YYYY-MM-DD",
        default=None,
        help="the date of day 0 (default: yesterday in UTC, so that day 1 is today)",
    )
    data.add_argument(
        "--print-date", action="store_true", help="print the date of --day (YYYY-MM-DD) and exit"
    )
    data.add_argument(
        "--access",
        action="store_true",
        help="serve members, teams, repository team permissions and access tokens, and their daily changes",
    )


def _access_options(parser: argparse.ArgumentParser) -> None:
    access = parser.add_argument_group("access")
    access.add_argument(
        "--token",
        default="secret-oat",
        metavar="SECRET",
        help="secret that logs in as --org and sees everything",
    )
    access.add_argument(
        "--public-token", metavar="SECRET", help="secret that silently sees public repositories only"
    )
    access.add_argument(
        "--limited-token",
        metavar="SECRET",
        help="secret that reads repositories and the audit log but not members, teams or team permissions "
        "(403: it lacks their scopes)",
    )
    access.add_argument("--host", default="127.0.0.1", help="address to listen on")
    access.add_argument(
        "--port", type=int, metavar="N", default=8080, help="port to listen on (0 picks a free one)"
    )


def _fault_options(parser: argparse.ArgumentParser) -> None:
    faults = parser.add_argument_group("faults (0: off)")
    faults.add_argument(
        "--latency", type=float, metavar="SECONDS", default=0.0, help="seconds slept before every answer"
    )
    faults.add_argument(
        "--rate-limit-every", type=int, metavar="N", default=0, help="every Nth API request answers 429"
    )
    faults.add_argument(
        "--retry-after", type=float, metavar="SECONDS", default=1.0, help="seconds those 429s announce"
    )
    faults.add_argument(
        "--fail-503-every", type=int, metavar="N", default=0, help="every Nth API request answers 503"
    )
    faults.add_argument(
        "--drop-every",
        type=int,
        default=0,
        metavar="N",
        help="every Nth API request: the connection closes unanswered",
    )
    faults.add_argument(
        "--jwt-lifetime",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="seconds until a login's JWT is refused",
    )
    faults.add_argument(
        "--quota",
        type=int,
        default=0,
        metavar="N",
        help="requests per window, announced in X-RateLimit-*; 429 past it",
    )
    faults.add_argument(
        "--quota-window", type=float, metavar="SECONDS", default=60.0, help="seconds per --quota window"
    )


def _start_date(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD") from None
    if day < hubhistory.MIN_START:
        raise argparse.ArgumentTypeError(
            f"{value} is before {hubhistory.MIN_START}, when the generated repositories were last changed"
        )
    return day


def main(argv: list[str] | None = None) -> None:
    options = build_parser()
    args = options.parse_args(argv)
    for name in ("repos", "tags", "day"):
        if getattr(args, name) < 0:
            options.error(f"--{name} must be 0 or more")
    start = args.start_date or date.fromordinal(datetime.now(UTC).date().toordinal() - 1)
    night = hubhistory.night_of(start, args.day)
    if args.print_date:
        print(night.isoformat())
        return

    faults = Faults(
        latency=args.latency,
        rate_limit_every=args.rate_limit_every,
        retry_after=args.retry_after,
        fail_503_every=args.fail_503_every,
        drop_every=args.drop_every,
        jwt_lifetime=args.jwt_lifetime,
        quota=args.quota,
        quota_window=args.quota_window,
    )
    hub = FakeHub({}, _credentials(args), faults, host=args.host, port=args.port)
    hubhistory.build(
        hub,
        args.org,
        args.repos,
        tags=args.tags,
        seed=args.seed,
        day=args.day,
        start=start,
        access=args.access,
    )
    # Ctrl-C must work even when started in the background (which inherits SIGINT ignored),
    # and SIGTERM should stop as cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with hub:
        try:  # the banner too: a Ctrl-C right after it is read must still exit cleanly
            print(_banner(hub, args, night), flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def _credentials(args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    credentials = {args.token: (args.org, "all")}
    if args.public_token:
        credentials[args.public_token] = (args.org, "public")
    if args.limited_token:
        credentials[args.limited_token] = (args.org, "all " + " ".join(f"-{s}" for s in ACCESS_SCOPES))
    return credentials


def _banner(hub: FakeHub, args: argparse.Namespace, night: date) -> str:
    tokens = f"token: {args.token}"
    for name, secret in (("public token", args.public_token), ("limited token", args.limited_token)):
        if secret:
            tokens += f", {name}: {secret}"
    repos = len(hub.repos[args.org])
    tags = sum(len(listed) for listed in hub.tags.values())
    state = hub.access.get(args.org)
    access = "" if state is None else f"{len(state.members)} members, {len(state.teams)} teams, "
    access += "" if state is None else f"{len(state.tokens)} org access tokens, "
    return (
        f"fake hub on {hub.url} (org {args.org}, day {args.day}: the night of {night}, "
        f"{repos} repositories, {tags} tags, {access}{tokens})"
    )
