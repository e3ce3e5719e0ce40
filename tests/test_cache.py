"""flowam.cache: the cache folder, its keys, and atomic writes."""

import numpy as np
import pytest

from flowam import cache


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "x.npz"
    with pytest.raises(RuntimeError), cache.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_entry_is_rebuilt(tmp_path):
    target = tmp_path / "x.npz"
    target.write_bytes(b"PK\x03\x04 not really a zip")
    calls = []

    def build():
        calls.append(1)
        return {"a": np.arange(3)}

    assert cache.cached_arrays(target, ["a"], build)["a"].tolist() == [0, 1, 2]
    assert cache.cached_arrays(target, ["a"], build)["a"].tolist() == [0, 1, 2]
    assert len(calls) == 1


def test_entry_missing_an_array_is_rebuilt(tmp_path):
    target = tmp_path / "x.npz"
    cache.save_arrays(target, {"a": np.zeros(2)})
    out = cache.cached_arrays(target, ["a", "b"], lambda: {"a": np.ones(2), "b": np.ones(1)})
    assert out["b"].tolist() == [1.0]


def test_key_is_stable_and_order_free():
    assert cache.key({"a": 1, "b": [2]}) == cache.key({"b": [2], "a": 1})
    assert cache.key({"a": 1}) != cache.key({"a": 2})
