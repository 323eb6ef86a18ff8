"""gradcam_utils.lru.LRUCache, the one cache behind the engine's plans and the explorer's maps.

Expected contents are worked out by hand from the order of the calls (least recently used goes first).
"""

import pytest

from gradcam_utils.lru import LRUCache


def test_the_least_recently_used_entry_goes_first_and_get_counts_as_use():
    cache = LRUCache(max_items=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now "b" is the least recently used
    cache.put("c", 3)
    assert list(cache) == ["a", "c"]
    assert cache.get("b") is None


def test_a_byte_bound_drops_entries_until_the_total_fits_but_keeps_the_newest():
    cache = LRUCache(max_items=10, max_bytes=10, size_of=len)
    cache.put("a", "xxxx")
    cache.put("b", "xxxx")
    assert cache.nbytes == 8
    cache.put("c", "xxxx")  # 12 bytes > 10: "a" goes
    assert list(cache) == ["b", "c"] and cache.nbytes == 8
    cache.put("d", "x" * 25)  # alone over the bound: kept, everything else goes
    assert list(cache) == ["d"] and cache.nbytes == 25


def test_putting_a_key_again_replaces_and_remeasures_its_value():
    cache = LRUCache(max_items=3, max_bytes=100, size_of=len)
    cache.put("a", "xx")
    cache.put("b", "xxx")
    cache.put("a", "xxxxxx")
    assert cache.nbytes == 9 and list(cache) == ["b", "a"] and cache.get("a") == "xxxxxx"


def test_drop_where_and_clear_keep_the_byte_count_right():
    cache = LRUCache(max_items=5, max_bytes=100, size_of=len)
    for key, value in [("a", "x"), ("b", "xx"), ("c", "xxx")]:
        cache.put(key, value)
    assert cache.drop_where(lambda key, value: len(value) >= 2) == 2
    assert list(cache) == ["a"] and cache.nbytes == 1 and "b" not in cache
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_iterating_does_not_count_as_use():
    cache = LRUCache(max_items=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert list(cache) == ["a", "b"]
    cache.put("c", 3)
    assert list(cache) == ["b", "c"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_items": 0}, "max_items must be at least 1"),
        ({"max_items": 2, "max_bytes": 10}, "max_bytes needs size_of"),
    ],
)
def test_bad_bounds_are_refused_with_a_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LRUCache(**kwargs)


def test_the_engine_and_the_explorer_use_this_cache():
    from gradcam_utils import engine, map_cache

    assert isinstance(engine._PLAN_CACHE, LRUCache)
    assert "class _LRU" not in open(map_cache.__file__).read()
