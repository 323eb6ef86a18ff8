"""What an exercise check returns, and the small helpers every check shares.

A check returns ``Feedback``, which is truthy when the answer is right and shows as one line in a notebook; ``None``
(the placeholder in the notebooks) gets "no answer yet". The checks themselves are in ``exercises`` (notebooks
01-08) and ``capstone_checks`` (09). Every message follows ``gc.set_language``: the texts are in the catalogue
``messages_checks``, read with ``tr(key, **fields)`` (``i18n.text``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .i18n import text as tr


@dataclass(frozen=True)
class Feedback:
    """An exercise check's verdict: true when correct, shown in a notebook as a tick or cross and the message."""

    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return ("✓ " if self.correct else "✗ ") + self.message


@functools.cache
def _model(name: str):
    """The course's bundle ``name``, built once per session: a learner may run a check many times."""
    from .zoo import load_model

    return load_model(name)


def _no_answer(answer) -> Feedback | None:
    if answer is None:
        return Feedback(False, tr("check.no_answer"))
    return None


def _close(answer, expected: float, tolerance: float, what: str, hint: str) -> Feedback:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return Feedback(False, tr("check.expected_number", what=what, answer=answer))
    if abs(value - expected) <= tolerance:
        return Feedback(True, tr("check.close_right", what=what, expected=expected))
    return Feedback(False, tr("check.close_wrong", value=value, what=what, hint=hint))
