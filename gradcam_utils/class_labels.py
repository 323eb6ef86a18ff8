"""Class names as people type them: unique labels, type-ahead search and name lookup.

Shared by the explorer (``Explorer.search_classes``, ``Explorer.class_index_for``) and the command's ``--class``
(``cli.models.resolve_class``); each caller words its own errors.
"""

from __future__ import annotations

import collections
import difflib
from collections.abc import Iterable, Sequence

import numpy as np

from . import imagenet
from .errors import ClassIndexError

CLOSE_CUTOFF = 0.6  # difflib ratio for "did you mean" suggestions


def normalize(text: str) -> str:
    """Lower case, single spaces: how typed text is compared with names."""
    return " ".join(str(text).lower().split())


def unique_labels(class_names: Iterable) -> tuple[str, ...]:
    """One label per class, in index order, unique ("crane (134)" where names repeat, case-insensitively)."""
    names = [str(n) for n in class_names]
    counts = collections.Counter(n.lower() for n in names)
    return tuple(n if counts[n.lower()] == 1 else f"{n} ({i})" for i, n in enumerate(names))


def base_name(label: str) -> str:
    """The label without its " (index)" suffix: "crane (134)" -> "crane"; other labels unchanged."""
    head, _, tail = label.rpartition(" (")
    return head if head and tail.endswith(")") and tail[:-1].isdigit() else label


def indices_named(wanted: str, keys: Iterable[str]) -> list[int]:
    """Indices of the keys equal to ``wanted`` (both already normalised by the caller)."""
    return [i for i, key in enumerate(keys) if key == wanted]


def close_matches(wanted: str, keys: Iterable[str], n: int) -> list[str]:
    """Up to ``n`` keys close to ``wanted``, closest first, for a "did you mean" hint."""
    return difflib.get_close_matches(wanted, list(keys), n=n, cutoff=CLOSE_CUTOFF)


def search(
    labels: Sequence[str], text: str, probabilities: np.ndarray, limit: int | None = 20
) -> list[tuple[str, int]]:
    """Type-ahead: (label, index) of the classes whose label contains ``text`` (case-insensitive).

    Exact matches first, then labels starting with it, then labels with a word starting with it, then the rest;
    within each group the more likely classes (``probabilities``) come first.
    """
    needle = normalize(text)
    if not needle:
        return []
    found = []
    for index, label in enumerate(labels):
        name = label.lower()
        if needle not in name:
            continue
        if needle in (name, base_name(label).lower()):
            group = 0
        elif name.startswith(needle):
            group = 1
        elif any(word.startswith(needle) for word in name.replace("-", " ").split()):
            group = 2
        else:
            group = 3
        found.append((group, -probabilities[index], index, label))
    found.sort()
    return [(label, index) for _, _, index, label in found[:limit]]


def imagenet_synonyms(class_names) -> list[set[str]]:
    """For the ImageNet names, each class's synonyms ("tabby, tabby cat" -> {"tabby", "tabby cat"}); else []."""
    if len(class_names) != imagenet.NUM_CLASSES or tuple(class_names) != imagenet.class_names_cached():
        return []
    return [
        {part.strip().casefold() for part in imagenet.class_name(i, full=True).split(",") if part.strip()}
        for i in range(imagenet.NUM_CLASSES)
    ]


def index_for(labels: Sequence[str], text: str, model: str) -> int:
    """The class a label or name stands for ("tabby", "Tabby", "crane (517)"); ClassIndexError otherwise."""
    wanted = normalize(text)
    exact = indices_named(wanted, (label.lower() for label in labels))
    if exact:
        return exact[0]
    same_name = indices_named(wanted, (base_name(label).lower() for label in labels))
    if len(same_name) == 1:
        return same_name[0]
    if same_name:
        raise ClassIndexError(
            f"{text!r} names {len(same_name)} classes: {', '.join(labels[i] for i in same_name)}. Pick one of those."
        )
    close = close_matches(wanted, [label.lower() for label in labels], n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else " Type part of a name to see matching classes."
    raise ClassIndexError(f"No class named {text!r} in {model}.{hint}")
