"""Data conventions: the up axis of files, data of some of a model's classes, and what a
model's metadata says about its data."""

import json
import shutil
import warnings

import h5py
import numpy as np
import pytest
import trimesh

from conftest import run_cli
from flowam.data import class_names, load_dataset, load_for_model, split_names
from flowam.errors import DataError, FlowamError
from flowam.explain import Explainer
from flowam.subject import Subject
from test_data import off_text


def chair_y_up() -> trimesh.Trimesh:
    """A seat with a back towards +z and four legs, y-up (flowam's frame)."""
    seat = trimesh.creation.box(extents=(0.8, 0.1, 0.8), transform=_at(0, 0.5, 0))
    back = trimesh.creation.box(extents=(0.8, 0.9, 0.1), transform=_at(0, 1.0, 0.35))
    legs = [
        trimesh.creation.box(extents=(0.08, 0.45, 0.08), transform=_at(x, 0.22, z))
        for x in (-0.35, 0.35)
        for z in (-0.35, 0.35)
    ]
    return trimesh.util.concatenate([seat, back, *legs])


def _at(x, y, z):
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def write_chairs(root, up: str):
    """``<class>/{train,test}/*.off``: chairs (and turned chairs as 'other') with the
    up axis ``up`` (z-up files hold (x, z, y) of the y-up chair: the swap)."""
    for cls, turn in (("chair", 0), ("other", np.pi / 2)):
        mesh = chair_y_up()
        mesh.apply_transform(trimesh.transformations.rotation_matrix(turn, (0, 1, 0)))
        if up == "z":  # (faces keep their order, so both files are sampled alike)
            mesh.vertices = mesh.vertices[:, [0, 2, 1]]
        for split in ("train", "test"):
            (root / cls / split).mkdir(parents=True)
            for i in range(2):
                (root / cls / split / f"{cls}_{i:04d}.off").write_text(off_text(mesh))
    return root


def facing(points: np.ndarray) -> np.ndarray:
    """Tallest axis and the horizontal offset of the top fifth of the points, per cloud."""
    ext = np.ptp(points, axis=1)
    top = points[..., 1] >= np.quantile(points[..., 1], 0.8, axis=1, keepdims=True)
    offset = np.stack([p[t].mean(0) - p.mean(0) for p, t in zip(points, top, strict=True)])
    return ext.argmax(1), offset


def test_off_meshes_are_z_up_and_come_out_y_up_by_the_swap(tmp_path):
    z_root = write_chairs(tmp_path / "z", "z")
    y_root = write_chairs(tmp_path / "y", "y")
    chairs = load_dataset(z_root, "train", num_points=512, use_normals=True, progress=False)
    assert chairs.description["up"] == "z"  # the files' axis, read by the format's default
    tallest, offset = facing(chairs.points[chairs.labels == 0])
    assert (tallest == 1).all() and (offset[:, 2] > 0.1).all()  # upright, back towards +z
    # the same chairs written y-up and read as y-up give the same clouds and normals
    same = load_dataset(y_root, "train", num_points=512, use_normals=True, up="y", progress=False)
    assert np.allclose(same.points, chairs.points, atol=1e-5)
    # normals are swapped with the points (their sign follows the faces' winding)
    assert np.allclose(np.abs((same.normals * chairs.normals).sum(-1)), 1, atol=1e-4)
    # read as they lie (up="y" for z-up files), the chairs lie on their backs
    lying = load_dataset(z_root, "train", num_points=512, up="y", progress=False)
    tallest, _ = facing(lying.points[lying.labels == 0])
    assert (tallest == 2).all()
    with pytest.raises(DataError, match="up axis 'x'"):
        load_dataset(z_root, "train", num_points=512, up="x", progress=False)
    with pytest.raises(DataError, match="procedural"):
        load_dataset("procedural", "test", up="z")


def test_the_up_option_of_data_info_and_train(tmp_path, monkeypatch, capsys):
    root = write_chairs(tmp_path / "z", "z")
    code, out, _ = run_cli(["data", "info", str(root), "--num-points", "64"], monkeypatch, capsys)
    assert code == 0 and "chair" in out and "train" in out and "test" in out
    code, _, err = run_cli(
        ["data", "info", str(root), "--num-points", "64", "--up", "w"], monkeypatch, capsys
    )
    assert code == 1 and err.startswith("error: up axis 'w'")


def h5_dataset(root, classes, splits=("train",), corrupt=False):
    root.mkdir()
    (root / "shape_names.txt").write_text("\n".join(classes) + "\n")
    rng = np.random.default_rng(0)
    for split in splits:
        (root / f"{split}_files.txt").write_text(f"ply_data_{split}0.h5\n")
        path = root / f"ply_data_{split}0.h5"
        if corrupt:
            path.write_bytes(b"not hdf5 at all")
            continue
        with h5py.File(path, "w") as h5:
            h5["data"] = rng.normal(size=(4 * len(classes), 64, 3)).astype(np.float32)
            h5["label"] = np.repeat(np.arange(len(classes)), 4)[:, None].astype(np.uint8)
    return root


def test_data_of_some_of_a_models_classes_are_mapped_by_name(tmp_path):
    root = h5_dataset(tmp_path / "h5", ["table", "chair"])
    real = load_for_model(["airplane", "chair", "sofa", "table"], root, "train", num_points=64)
    assert real.classes == ["airplane", "chair", "sofa", "table"]
    assert real.covered == ["chair", "table"] and len(real) == 8
    raw = load_dataset(root, "train", num_points=64, progress=False)
    chairs = raw.points[raw.labels == 1]
    assert np.array_equal(real.points[real.labels == 1], chairs)
    assert real.description["labelled_as"] == real.classes  # caches keyed apart
    # objects of classes the model lacks are left out
    fewer = load_for_model(["chair"], root, "train", num_points=64)
    assert fewer.covered == ["chair"] and len(fewer) == 4


def test_a_true_mismatch_is_found_from_the_class_list_before_any_file(tmp_path):
    root = h5_dataset(tmp_path / "h5", ["airplane", "bed"], corrupt=True)
    assert class_names(root) == ["airplane", "bed"]
    with pytest.raises(DataError, match=r"none of its 2 classes \(airplane, bed\)"):
        load_for_model(["box", "cone"], root, "train", num_points=64)
    with pytest.raises(DataError, match="not a readable HDF5"):  # shared: the files are read
        load_for_model(["bed"], root, "train", num_points=64)


def test_a_dataset_lists_the_splits_it_holds(tmp_path, monkeypatch, capsys):
    root = h5_dataset(tmp_path / "h5", ["chair", "table"])
    assert split_names(root) == ["train"] and split_names() == ["train", "test"]
    code, out, _ = run_cli(["data", "info", str(root), "--num-points", "64"], monkeypatch, capsys)
    header = next(line for line in out.splitlines() if "class" in line)
    assert code == 0 and "train" in header and "test" not in header
    assert "total" in out and "8" in out


@pytest.fixture
def cones_only(tiny_data, tmp_path):
    """tiny_data's cones alone: real objects of one of the tiny model's two classes."""
    root = tmp_path / "cones"
    shutil.copytree(tiny_data / "cone", root / "cone")
    return root


def test_explaining_against_real_objects_of_some_classes(small_model, small_real, capfd):
    two = small_real.subset(small_real.labels != 2)  # real objects of a and b, none of c
    explainer = Explainer(small_model, two)
    assert explainer.classes == ["a", "b", "c"] and two.covered == ["a", "b"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Mean of empty slice" from the layer analysis
        result = explainer.explain(None, "flow-auto", **{"run.steps": 2}, progress=False)
        scores = explainer.evaluator(0).score(result.points, result.targets)
    assert result.targets.tolist() == [0, 1]  # every class that has real objects
    assert "explaining" not in capfd.readouterr().err  # the layer analysis' bar is off too
    assert set(scores.taken_for.tolist()) <= {0, 1}  # the 1-NN gallery holds a and b
    with pytest.raises(FlowamError, match="'c' has no objects"):
        explainer.explain(["c"], "flow", **{"run.steps": 2}, progress=False)
    assert explainer.explain(
        ["c"], "vanilla", **{"run.steps": 2}, progress=False
    ).targets.tolist() == [2]


def test_one_class_of_real_objects_serves_fixed_layers_not_the_layer_analysis(
    tiny_model, cones_only
):
    explainer, info = Subject(model=str(tiny_model), data=str(cones_only), judges="none").load(0)
    assert info.classes == ["box", "cone"] and explainer.real.covered == ["cone"]
    assert explainer.explain(None, "flow", **{"run.steps": 2}, progress=False).targets.tolist() == [
        1
    ]
    with pytest.raises(FlowamError, match=r"cover 1 \(cone\)"):
        explainer.explain(None, "flow-auto", **{"run.steps": 2}, progress=False)


def test_a_model_of_another_convention_is_named_in_one_line(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    weights = tmp_path / "z_up.safetensors"
    shutil.copy(tiny_model, weights)
    meta = json.loads(tiny_model.with_suffix(".json").read_text())
    assert meta["up"] == "y"  # what flowam's own training records
    weights.with_suffix(".json").write_text(json.dumps({**meta, "up": "z"}))
    args = ["eval-model", "--model", str(weights), "--data", str(tiny_data)]
    code, _, err = run_cli([*args, "--out", str(tmp_path / "e")], monkeypatch, capsys)
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert code == 0 and len(warning) == 1
    assert "trained on z-up clouds" in warning[0] and str(tiny_data) in warning[0]
    code, _, err = run_cli(
        [
            "eval-model",
            "--model",
            str(tiny_model),
            "--data",
            str(tiny_data),
            "--out",
            str(tmp_path / "f"),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0 and "warning" not in err
