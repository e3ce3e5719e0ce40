"""The realism measurement: a model's accuracy on a real dataset's objects of the classes
it shares, from Python (flowam.models.accuracy) and from `flowam experiment realism`."""

import json

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from conftest import MODELNET_SAMPLE, run_cli
from flowam.data import load_dataset
from flowam.errors import FlowamError
from flowam.models import load_classifier
from flowam.models.accuracy import evaluate


def write_as_modelnet(tiny_data, root, extra_class="sphere"):
    """tiny_data's boxes and cones (and random spheres) in the modelnet40 resampled layout."""
    classes = ["box", "cone", extra_class]
    root.mkdir()
    (root / "modelnet40_shape_names.txt").write_text("\n".join(classes) + "\n")
    names = {"train": [], "test": []}
    rng = np.random.default_rng(1)
    for c in classes:
        (root / c).mkdir()
        files = sorted((tiny_data / c).glob("*/*.npy")) if c != extra_class else range(3)
        for i, f in enumerate(files):
            if c == extra_class:
                pts = rng.normal(size=(96, 3))
                pts /= np.linalg.norm(pts, axis=1, keepdims=True)
            else:
                pts = np.load(f)
            name = f"{c}_{i + 1:04d}"
            rows = np.hstack([pts, np.zeros_like(pts)])
            np.savetxt(root / c / f"{name}.txt", rows, delimiter=",", fmt="%.6f")
            names["test" if i % 3 == 0 else "train"].append(name)
    for split, listed in names.items():
        (root / f"modelnet40_{split}.txt").write_text("\n".join(listed) + "\n")
    return root


def test_realism_scores_the_shared_classes_against_independent_predictions(
    tiny_model, tiny_data, tmp_path
):
    root = write_as_modelnet(tiny_data, tmp_path / "mn")
    model, info = load_classifier(tiny_model)
    real = load_dataset(root, "train", num_points=64, progress=False)
    result = evaluate(model, real, info.classes)
    assert result.shared == ["box", "cone"]  # the spheres are not a class of the model
    assert result.confusion.shape == (2, 2) and result.confusion.sum() == len(result.names)
    known = real.subset(real.labels < 2)
    with torch.no_grad():
        pred = model(torch.from_numpy(known.points)).argmax(1).numpy()
    for k in range(2):
        expected = (pred[known.labels == k] == k).mean()
        assert result.per_class[k] == pytest.approx(expected)
    assert result.overall == pytest.approx((pred == known.labels).mean())


def test_realism_command_writes_table_picture_and_config(
    tiny_model, tiny_data, tmp_path, monkeypatch, capsys
):
    root = write_as_modelnet(tiny_data, tmp_path / "mn")
    out = tmp_path / "realism"
    args = ["experiment", "realism", "--data", str(root), "--model", str(tiny_model)]
    code, text, err = run_cli([*args, "--out", str(out), "--seed", "2"], monkeypatch, capsys)
    assert code == 0, err
    assert "box" in text and "overall" in text and "sphere" not in text
    summary = json.loads((out / "realism.json").read_text())
    assert set(summary["per_class"]) == {"box", "cone"}
    assert sum(r["objects"] for r in summary["per_class"].values()) == 24  # train + test
    assert imread(out / "confusion.png").shape[0] > 100
    assert json.loads((out / "config.json").read_text())["seed"] == 2
    assert '"title":"confusion.png"' in (out / "report.html").read_text()  # pictures only


def test_realism_refuses_a_dataset_without_shared_classes(tiny_model, tmp_path):
    model, info = load_classifier(tiny_model)
    real = load_dataset("procedural", "test", num_points=64, per_class=1, progress=False)
    real = real.subset(np.isin(real.labels, [real.class_index("bed")]))
    with pytest.raises(FlowamError, match="holds no object of a class the model knows"):
        evaluate(model, real, info.classes)


@pytest.mark.skipif(not MODELNET_SAMPLE.is_dir(), reason="../shared/data not available")
def test_realism_on_genuine_modelnet40_files(tmp_path, monkeypatch, capsys):
    out = tmp_path / "genuine"
    code, _text, err = run_cli(
        ["experiment", "realism", "--data", str(MODELNET_SAMPLE), "--out", str(out)],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    summary = json.loads((out / "realism.json").read_text())
    listed = [
        name
        for split in ("train", "test")
        for name in (MODELNET_SAMPLE / f"modelnet40_{split}.txt").read_text().split()
    ]
    # every listed genuine object is of a bundled class, so every one is scored
    assert set(summary["per_class"]) == {n.rsplit("_", 1)[0] for n in listed}
    assert sorted(p["object"] for p in summary["predictions"]) == sorted(listed)
