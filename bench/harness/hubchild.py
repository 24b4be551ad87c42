"""The child's side of a Hub process (`tools.HubProcess`): one JSON command a line on stdin, one answer each.

A Hub child (`hubserver.py`, `taghub.py`) runs `tests/fakehub.py` in an interpreter of its own, so that
its threads never compete with the measured client for the GIL. It runs as a script, so it first puts
bench/ (for `harness`) and tests/ (for the fake Hub) on its path.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from fakehub import FakeHub

Handler = Callable[[str, dict[str, Any]], dict[str, Any] | None]


def answer_commands(hub: FakeHub, hello: dict[str, Any], handle: Handler) -> None:
    """Print ``hello``, then answer one JSON command a line from stdin until ``quit``; stop the hub.

    ``faults`` sets fields of ``hub.faults``; ``handle(name, args)`` answers the others (None: an unknown
    command)."""
    out = sys.stdout
    out.write(json.dumps(hello) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        name = command.pop("cmd")
        answer: dict[str, Any] | None = {"ok": True}
        if name == "faults":
            for key, value in command.items():
                setattr(hub.faults, key, value)
        elif name != "quit":
            answer = handle(name, command)
        if answer is None:
            answer = {"ok": False, "error": f"unknown command {name}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
        if name == "quit":
            break
    hub.stop()
