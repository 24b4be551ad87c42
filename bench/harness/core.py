"""What a bench is: a `Scenario` (what runs, at a size) with `Target`s (a figure and its bound).

A scenario measures one repetition at a time: its ``baseline`` once, then its ``project`` part once per
code under test (the current tree, and with ``--compare REV`` REV's code right after it), so that every
figure of one repetition is measured seconds apart on the same noisy machine. Figures are seconds or
MiB, named by the scenario; a target bounds a figure, alone or divided by another (``over``).
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.tools import Code

Figures = dict[str, float]


@dataclass(frozen=True)
class Target:
    """``figure`` (÷ ``over`` when set) ≤ ``bound``; checked only at size ``at`` when it is set."""

    figure: str
    bound: float
    over: str = ""
    at: int = 0
    why: str = ""

    def label(self) -> str:
        ratio = f"{self.figure} / {self.over}" if self.over else self.figure
        return f"{ratio} ≤ {self.bound:g}" + (f" at {self.at:,}" if self.at else "")

    def applies(self, size: int) -> bool:
        return not self.at or self.at == size

    def value(self, values: dict[str, list[float]]) -> float:
        """The median of the figure, or of its ratios to ``over`` per repetition (measured side by side)."""
        if not self.over:
            return statistics.median(values[self.figure])
        ratios = [
            a / b if b else (math.inf if a else 0.0)
            for a, b in zip(values[self.figure], values[self.over], strict=True)
        ]
        return statistics.median(ratios)


@dataclass
class Setup:
    """What a scenario's repetitions share at one size (a Hub process, a work folder, a server)."""

    size: int
    codes: list[Code]
    url: str = ""
    work: Path = field(default_factory=Path)
    env: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


SetupFactory = Callable[[int, list[Code]], contextlib.AbstractContextManager[Setup]]


@contextlib.contextmanager
def plain_setup(size: int, codes: list[Code]) -> Iterator[Setup]:
    yield Setup(size, codes)


def no_baseline(setup: Setup) -> Figures:
    return {}


@dataclass(frozen=True)
class Scenario:
    """A bench. ``sizes``: the full run's sizes; ``quick``: ``--quick``'s; ``smoke``: the smallest, run
    by the test suite, unless ``smoke_skip`` says why not. ``repeats``: repetitions per size
    (``--repeat`` overrides). ``project(setup, code)`` returns the project's figures on one code;
    ``baseline(setup)`` the figures it is compared with."""

    name: str
    what: str
    sizes: tuple[int, ...]
    quick: tuple[int, ...]
    smoke: int
    project: Callable[[Setup, Code], Figures]
    baseline: Callable[[Setup], Figures] = no_baseline
    setup: SetupFactory = plain_setup
    targets: tuple[Target, ...] = ()
    repeats: Callable[[int], int] = lambda size: 1
    unit: str = "s"
    smoke_skip: str = ""  # why ``--smoke`` leaves it out (empty: it runs)


@dataclass
class Run:
    """The figures of one scenario at one size: per figure, one value per repetition."""

    size: int
    baseline: dict[str, list[float]] = field(default_factory=dict)
    project: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # code label -> figure -> values

    def add(self, into: dict[str, list[float]], figures: Figures) -> None:
        for name, value in figures.items():
            into.setdefault(name, []).append(value)

    def current(self) -> dict[str, list[float]]:
        """Every figure of the current code and of the baseline, one value per repetition."""
        return {**self.baseline, **self.project.get("current", {})}


REGISTRY: dict[str, Scenario] = {}


def scenario(item: Scenario) -> Scenario:
    """Register a scenario under its name (each scenario module calls this once per bench)."""
    if item.name in REGISTRY:
        raise ValueError(f"two scenarios named {item.name}")
    REGISTRY[item.name] = item
    return item
