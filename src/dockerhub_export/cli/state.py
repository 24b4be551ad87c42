"""What the command line's commands share for one invocation: whether --debug was given."""

from dataclasses import dataclass


@dataclass
class State:
    debug: bool = False  # tracebacks and Prefect's own logs


state = State()
