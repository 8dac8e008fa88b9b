"""One error for configuration that is unusable in several ways at once.

Settings, the lane catalog and the approvers file are all validated in full before anything runs, so an
operator fixes every problem in one pass instead of one per restart; they share this message shape.
"""

from __future__ import annotations

from collections.abc import Sequence


class ConfigProblems(ValueError):
    """`problems` lists every problem found, one line each, under `subject`."""

    def __init__(self, subject: str, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{subject} has {len(self.problems)} problem(s):\n{listed}")
