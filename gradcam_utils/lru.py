"""One least-recently-used cache for the whole package.

The engine's traced gradient plans and the explorer's predictions, gradients, maps and coloured maps all live in
instances of ``LRUCache``.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Hashable, Iterator
from typing import Any


class LRUCache:
    """A mapping bounded by a number of entries and, optionally, by a total size in bytes.

    ``get`` marks an entry as recently used; ``put`` adds one and then drops the least recently used entries until
    both bounds hold again, always keeping the entry just added (so one oversized value is still cached, alone).

    Args:
        max_items: The most entries kept.
        max_bytes: The most bytes kept, as measured by ``size_of``; ``None`` for no byte bound.
        size_of: The size in bytes of a value; required with ``max_bytes``.
    """

    def __init__(self, max_items: int, max_bytes: int | None = None, size_of: Callable[[Any], int] | None = None):
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        if max_bytes is not None and size_of is None:
            raise ValueError("max_bytes needs size_of, the function that measures a value's size in bytes")
        self._items: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()
        self.max_items, self.max_bytes, self._size_of = max_items, max_bytes, size_of
        self.nbytes = 0  # the total size of the values kept, by size_of (0 without it)

    def get(self, key: Hashable) -> Any:
        """Return the value filed under ``key`` (now the most recently used), or ``None`` when there is none."""
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Hashable, value: Any) -> Any:
        """File ``value`` under ``key`` (replacing and re-measuring any value there) and return it."""
        if key in self._items:
            self._drop(key)
        self._items[key] = value
        self.nbytes += self._size(value)
        while len(self._items) > 1 and (
            len(self._items) > self.max_items or (self.max_bytes is not None and self.nbytes > self.max_bytes)
        ):
            self._drop(next(iter(self._items)))
        return value

    def drop_where(self, predicate: Callable[[Hashable, Any], bool]) -> int:
        """Remove every entry for which ``predicate(key, value)`` is true; return how many were removed."""
        doomed = [key for key, value in self._items.items() if predicate(key, value)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def clear(self) -> None:
        """Remove every entry."""
        self._items.clear()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[Hashable]:
        """The keys, least recently used first (without marking them used)."""
        return iter(list(self._items))

    def _drop(self, key: Hashable) -> None:
        self.nbytes -= self._size(self._items.pop(key))

    def _size(self, value: Any) -> int:
        return self._size_of(value) if self._size_of is not None else 0
