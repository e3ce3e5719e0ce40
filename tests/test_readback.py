"""flowam.readback: each reader returns what the writer wrote, or one line naming the
file and what is wrong with it (never a traceback, never an unpickled object)."""

import json
import warnings

import numpy as np
import pytest

from flowam.errors import FlowamError, FlowamWarning
from flowam.readback import method_bound, read_arrays, read_cloud, read_json, read_result, usable


def refused(call, path, why):
    """``call(path)`` raises one line that names ``path`` and says ``why``."""
    with pytest.raises(FlowamError) as e:
        call(path)
    text = str(e.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and why in text, text


def test_json_is_read_or_named_with_what_is_wrong(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"a": [1, 2.5, None]}))
    assert read_json(good) == {"a": [1, 2.5, None]}
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00\x81")
    refused(read_json, tmp_path / "binary.json", "not a JSON file (not text)")
    (tmp_path / "cut.json").write_text('{\n"a": [1, 2')
    refused(read_json, tmp_path / "cut.json", "malformed JSON (")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    refused(read_json, tmp_path / "deep.json", "nested too deeply")
    refused(read_json, tmp_path / "absent.json", "cannot be read")


def test_a_cloud_is_an_n_by_3_float_array_and_nothing_else(tmp_path):
    ints = np.arange(12, dtype=np.int16).reshape(4, 3)
    np.save(tmp_path / "ints.npy", ints)
    cloud = read_cloud(tmp_path / "ints.npy")
    assert cloud.dtype == np.float32 and np.array_equal(cloud, ints)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    refused(read_cloud, tmp_path / "objects.npy", "holds Python objects")
    np.savez(tmp_path / "archive.npy", a=ints)
    (tmp_path / "archive.npy.npz").rename(tmp_path / "archive.npy")
    refused(read_cloud, tmp_path / "archive.npy", "is an archive")
    np.save(tmp_path / "flat.npy", np.zeros((4, 2), np.float32))
    refused(read_cloud, tmp_path / "flat.npy", "shape (4, 2)")
    np.save(tmp_path / "empty.npy", np.zeros((0, 3), np.float32))
    refused(read_cloud, tmp_path / "empty.npy", "shape (0, 3)")
    np.save(tmp_path / "text.npy", np.array([["a", "b", "c"]]))
    refused(read_cloud, tmp_path / "text.npy", "values; expected (N, 3) floats")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    refused(read_cloud, tmp_path / "junk.npy", "expected an (N, 3) array")


def test_archives_are_read_whole_or_named(tmp_path):
    assert read_arrays(tmp_path / "absent.npz") == {}
    np.savez(tmp_path / "two.npz", a=np.ones(2), b=np.zeros((1, 3)))
    arrays = read_arrays(tmp_path / "two.npz")
    assert sorted(arrays) == ["a", "b"] and arrays["b"].shape == (1, 3)
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    refused(read_arrays, tmp_path / "junk.npz", "is not a readable .npz file")
    np.savez(tmp_path / "objects.npz", a=np.array([None], dtype=object))
    refused(read_arrays, tmp_path / "objects.npz", "holds Python objects")


@pytest.mark.parametrize("bad", [np.nan, np.inf, 2e6])
def test_clouds_with_unusable_coordinates_are_left_out_with_a_warning(bad):
    cloud = np.zeros((5, 3), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert usable("c.npy", cloud)
    cloud[2, 1] = bad
    with pytest.warns(FlowamWarning, match=r"c\.npy: .*left out"):
        assert not usable("c.npy", cloud)


def test_a_result_is_read_back_only_when_finished_by_the_same_method(tmp_path):
    from flowam.engine import Explanations
    from flowam.outputs import write_clouds

    classes = ["box", "cone", "cup"]
    points = np.random.default_rng(0).normal(size=(2, 16, 3)).astype(np.float32)
    method = {"name": "m", "l2": 0.1, "newer": 0.0}

    def written(status="finished", made=None):
        folder = tmp_path / status / str(made)
        result = Explanations(
            points=points,
            targets=np.array([2, 0]),
            restarts=np.zeros(2, dtype=np.int64),
            classes=classes,
            start=points * 2,
            history={"logit": np.zeros((3, 2))},
            weights={},
            steps_run=np.array([2, 2]),
            config={"method": made or method},
            status=status,
        )
        write_clouds(result, folder, [{}, {}])
        return folder

    back = read_result(written(), classes, [2, 0], method, {"newer": 0.0})
    assert back is not None and np.array_equal(back.points, points)
    assert np.array_equal(back.start, points * 2) and back.target_names == ["cup", "box"]
    older = {"name": "m", "l2": 0.1}  # written before the field "newer" existed
    assert read_result(written(made=older), classes, [2, 0], method, {"newer": 0.0})
    assert read_result(written(made=older), classes, [2, 0], method, {"newer": 1.0}) is None
    assert read_result(written(made={**method, "l2": 0.2}), classes, [2, 0], method, {}) is None
    assert read_result(written("stopped"), classes, [2, 0], method, {}) is None
    assert read_result(written(), classes, [1], method, {}) is None  # another class


def test_the_bound_of_a_saved_config_is_checked():
    assert method_bound({}) == 1.0 and method_bound(None) == 1.0
    assert method_bound({"method": {"steps": 3}}) == 1.0
    assert method_bound({"method": {"bound": 2}}) == 2.0
    for bad in ("2", True, 0, -1.5, None):
        with pytest.raises(FlowamError, match=r"^run/x.json: config.method.bound=.* positive"):
            method_bound({"method": {"bound": bad}}, "run/x.json")


def test_the_nearest_config_naming_the_model_is_found_at_or_above_a_run(tmp_path):
    from flowam.readback import nearest_config

    run = tmp_path / "out" / "methods" / "flow"
    run.mkdir(parents=True)
    (tmp_path / "config.json").write_text(json.dumps({"model": "bundled", "seed": 1}))
    (tmp_path / "out" / "config.json").write_text(json.dumps({"note": "names no model"}))
    values, path = nearest_config(run)
    assert values["seed"] == 1 and path == tmp_path / "config.json"
    (run / "config.json").write_text(json.dumps({"model": "mine.safetensors"}))
    assert nearest_config(run) == ({"model": "mine.safetensors"}, run / "config.json")
    (tmp_path / "config.json").unlink()  # above `lone` now only folders pytest made
    lone = tmp_path / "lone"
    lone.mkdir()
    with pytest.raises(FlowamError, match=r"lone: no config.json naming the model"):
        nearest_config(lone)
