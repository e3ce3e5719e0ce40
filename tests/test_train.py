"""Training runs on a tiny dataset the test writes; the bundled model's stated accuracy."""

import dataclasses
import json

import h5py
import numpy as np
import pytest
import torch
from matplotlib.image import imread
from safetensors.torch import load_file

from conftest import run_cli, tiny_config
from flowam.data import load_dataset
from flowam.data.procedural.generate import changed_since
from flowam.errors import FlowamError
from flowam.models import BUNDLED, bundled_models, bundled_path, get_model, load_classifier
from flowam.models.accuracy import evaluate
from flowam.subject import Subject
from flowam.train import TrainConfig, augment, export_model, train, train_step

config = tiny_config


def history(out):
    return [
        json.loads(json.dumps(dict(kv.split("=") for kv in line.split())))
        for line in (out / "train.log").read_text().splitlines()
    ]


def test_training_lowers_the_loss_and_saves_the_best_checkpoint(tiny_data, tmp_path):
    meta = train(config(tiny_data, tmp_path / "a"), progress=False)
    assert len(history(tmp_path / "a")) == 3
    assert meta["classes"] == ["box", "cone"] and meta["num_points"] == 64
    assert {"test_accuracy", "dataset", "command", "config"} <= set(meta)
    model, _ = load_classifier(tmp_path / "a" / "best.safetensors")
    test = load_dataset(tiny_data, "test", num_points=64, progress=False)
    assert evaluate(model, test).overall == pytest.approx(meta["test_accuracy"])
    assert json.loads((tmp_path / "a" / "config.json").read_text())["batch_size"] == 4


@pytest.mark.parametrize("name", ["pointnet", "pointnet2_ssg", "dgcnn"])
def test_a_few_training_steps_lower_the_loss(name):
    torch.manual_seed(0)
    model = get_model(name, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(6, 512 if name.startswith("pointnet2") else 128, 3) * 2 - 1
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    losses = [train_step(model, opt, x, y, 0.001)[0] for _ in range(8)]
    assert losses[-1] < 0.5 * losses[0]


def test_training_is_deterministic_and_resumes_exactly(tiny_data, tmp_path):
    train(config(tiny_data, tmp_path / "full"), progress=False)
    train(config(tiny_data, tmp_path / "again"), progress=False)
    train(config(tiny_data, tmp_path / "part", epochs=2), progress=False)
    train(config(tiny_data, tmp_path / "part", epochs=3), resume=True, progress=False)
    full = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["model"]
    for other in ("again", "part"):
        state = torch.load(tmp_path / other / "last.pt", weights_only=True)["model"]
        assert all(torch.equal(full[k], state[k]) for k in full), other
    assert len(history(tmp_path / "part")) == 3
    other = dataclasses.replace(config(tiny_data, tmp_path / "part", epochs=4), model="dgcnn")
    with pytest.raises(FlowamError, match=r"last.pt: was trained with another --model/--data"):
        train(other, resume=True, progress=False)


def test_augmentation_drops_scales_and_shifts():
    pts = torch.rand(6, 200, 3)
    cfg = TrainConfig()
    out = augment(pts, cfg, torch.Generator().manual_seed(0))
    assert out.shape == pts.shape and not torch.allclose(out, pts)
    assert torch.equal(augment(pts, cfg, torch.Generator().manual_seed(0)), out)
    still = augment(
        pts, TrainConfig(point_dropout=0.0, scale_low=1, scale_high=1, shift=0), torch.Generator()
    )
    assert torch.equal(still, pts)


def test_yaw_stretch_and_missing_parts():
    pts = torch.rand(8, 200, 3) * 2 - 1
    quiet = {"point_dropout": 0.0, "scale_low": 1, "scale_high": 1, "shift": 0}
    turned = augment(pts, TrainConfig(**quiet, yaw=30), torch.Generator().manual_seed(1))
    # a turn about y keeps heights and horizontal distances from the axis, by at most 30°
    assert torch.allclose(turned[..., 1], pts[..., 1])
    radius = pts[..., [0, 2]].norm(dim=-1)
    assert torch.allclose(turned[..., [0, 2]].norm(dim=-1), radius, atol=1e-5)
    cos = (turned[..., [0, 2]] * pts[..., [0, 2]]).sum(-1) / radius.square()
    assert (cos > np.cos(np.radians(30)) - 1e-4).all() and (cos < 1 - 1e-4).any()
    stretched = augment(pts, TrainConfig(**quiet, stretch=0.2), torch.Generator().manual_seed(2))
    factor = stretched / pts  # one factor per cloud and axis, in [0.8, 1.2]
    assert torch.allclose(factor, factor[:, :1].expand_as(factor), atol=1e-4)
    assert ((factor > 0.8 - 1e-4) & (factor < 1.2 + 1e-4)).all()
    holed = augment(pts, TrainConfig(**quiet, drop_part=1.0), torch.Generator().manual_seed(3))
    for before, after in zip(pts, holed, strict=True):
        missing = ~(after[:, None] == before[None]).all(-1).any(0)  # points no longer present
        assert 0.15 * 200 - 1 <= missing.sum() <= 0.35 * 200 + 1
        near = (before - before[missing].mean(0)).norm(dim=-1)
        assert near[missing].mean() < near[~missing].mean()  # one region went, not scatter
    with pytest.raises(FlowamError, match="--yaw"):
        TrainConfig(yaw=200).check()


def test_bad_training_options(tiny_data, tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(
        ["train", "--data", str(tiny_data), "--epochs", "0", "--out", str(tmp_path)],
        monkeypatch,
        capsys,
    )
    assert code == 1 and err.strip() == "error: --epochs must be at least 1"
    code, _, err = run_cli(
        [
            "train",
            "--data",
            str(tiny_data),
            "--model",
            "pointnet3",
            "--num-points",
            "64",
            "--out",
            str(tmp_path),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 1 and "unknown architecture 'pointnet3'" in err


def test_cli_train_and_eval_model(tiny_data, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(
        [
            "train",
            "--data",
            str(tiny_data),
            "--epochs",
            "1",
            "--num-points",
            "64",
            "--batch-size",
            "4",
            "--out",
            str(out),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    best = json.loads((out / "best.json").read_text())["test_accuracy"]
    assert f"best test accuracy {best:.4f}" in err  # the run's own figure, not a missing key
    code, text, err = run_cli(
        [
            "eval-model",
            "--model",
            str(out / "best.safetensors"),
            "--data",
            str(tiny_data),
            "--out",
            str(tmp_path / "ev"),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    assert "overall" in text and "box" in text
    assert imread(tmp_path / "ev" / "confusion.png").shape[0] > 100
    summary = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert np.array(summary["confusion"]).sum() == 8


def test_bundled_pointnet_is_the_default_and_knows_30_modelnet_classes():
    _, default = load_classifier(BUNDLED)
    _, named = load_classifier("bundled:pointnet")
    assert default.architecture == named.architecture == "pointnet"
    assert default.classes == named.classes and len(default.classes) >= 30
    assert bundled_models()[0] == "pointnet"
    assert default.metadata["test_accuracy"] >= 0.98


def test_unknown_bundled_model_lists_the_bundled_ones():
    with pytest.raises(FlowamError, match=r"bundled:resnet: no bundled model .*bundled:pointnet"):
        load_classifier("bundled:resnet")


@pytest.mark.parametrize("arch", bundled_models())
def test_bundled_models_reach_their_stated_accuracy(arch):
    model, info = load_classifier(f"bundled:{arch}")
    stated = info.metadata["test_accuracy"]
    assert info.architecture == arch and info.metadata["stored_dtype"] == "float16"
    assert set(load_file(str(bundled_path(arch)))) == set(model.state_dict())
    assert {"epochs_run", "minutes_run", "device"} <= set(info.metadata["training"])
    test = load_dataset("procedural", "test", num_points=info.num_points, progress=False)
    assert info.classes == test.classes
    # 10 objects of every class: the stated accuracy (on all 50) within sampling error; a
    # model trained on an older dataset version is measured on the classes it has not
    # changed since (their objects are the same), and its README row says which data
    sample = test.first_per_class(10)
    stale = changed_since(info.metadata["dataset"]["version"])
    assert stale < set(test.classes)
    keep = ~np.isin(np.array(test.classes)[sample.labels], sorted(stale))
    result = evaluate(model, sample.subset(keep))
    assert result.overall >= stated - 0.05


def test_export_stores_half_precision_with_the_training_record(tiny_model, tmp_path):
    out = tmp_path / "small.safetensors"
    meta = export_model(tiny_model, out, half=True, note="a test")
    stored = load_file(str(out))
    assert all(v.dtype == torch.float16 for k, v in stored.items() if v.is_floating_point())
    assert out.stat().st_size < 0.6 * tiny_model.stat().st_size
    assert meta["stored_dtype"] == "float16" and meta["training"]["note"] == "a test"
    assert meta["training"]["epochs_run"] == 2 and meta["training"]["device"] == "cpu"
    full, _ = load_classifier(tiny_model)
    half, info = load_classifier(out)
    assert info.metadata == meta
    x = torch.randn(3, 64, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(full(x), half(x), atol=0.05)


def test_init_weights_starts_from_a_trained_model(tiny_model, tiny_data, tmp_path):
    trained, _ = load_classifier(tiny_model)
    cfg = config(tiny_data, tmp_path / "ft", epochs=1, lr=0.0, weight_decay=0.0)
    train(dataclasses.replace(cfg, init_weights=str(tiny_model)), progress=False)
    # with a zero learning rate only batch-norm statistics move; the weights stay
    after, _ = load_classifier(tmp_path / "ft" / "best.safetensors")
    assert torch.equal(after.fc3.weight, trained.fc3.weight)
    fresh = train(config(tiny_data, tmp_path / "fresh", epochs=1, lr=0.0), progress=False)
    assert fresh["config"]["init_weights"] is None


def test_the_validation_carve_out_is_per_class_seeded_and_disjoint(tiny_data):
    data = load_dataset(tiny_data, "train", num_points=64, progress=False)
    rest, held = data.carve(0.25, seed=3)
    assert held.counts() == {"box": 2, "cone": 2} and rest.counts() == {"box": 6, "cone": 6}
    assert not set(held.names) & set(rest.names)
    assert sorted(held.names + rest.names) == sorted(data.names)
    assert held.description["validation"] == {"share": 0.25, "seed": 3}
    assert held.carve(0.5, 0)[1].split == "train-validation-validation"
    again = data.carve(0.25, seed=3)[1].names
    other = data.carve(0.25, seed=4)[1].names
    assert again == held.names and other != held.names
    with pytest.raises(FlowamError, match="validation share"):
        data.carve(1.0)


def train_only_hdf5(tiny_data, root):
    """``tiny_data``'s train split in the layout of the shared ModelNet10 copy: an HDF5
    dataset with a train split only (no test_files.txt)."""
    data = load_dataset(tiny_data, "train", num_points=64, progress=False)
    root.mkdir()
    (root / "shape_names.txt").write_text("\n".join(data.classes) + "\n")
    (root / "train_files.txt").write_text("ply_data_train0.h5\n")
    with h5py.File(root / "ply_data_train0.h5", "w") as h5:
        h5["data"] = data.points.astype(np.float16)
        h5["label"] = data.labels[:, None].astype(np.uint8)
    return root


def test_a_run_with_a_validation_share_needs_no_test_split(tiny_data, tiny_model, tmp_path):
    root = train_only_hdf5(tiny_data, tmp_path / "h5")
    with pytest.raises(FlowamError, match="test_files.txt"):
        load_dataset(root, "test", num_points=64, progress=False)
    cfg = config(root, tmp_path / "v", validation=0.25, epochs=2)
    meta = train(cfg, progress=False)
    assert "val_accuracy" in meta and "test_accuracy" not in meta
    assert meta["evaluated_on"]["validation"] == {"share": 0.25, "seed": 0}
    assert meta["augmentations"]["turns_about_up"] is False and meta["up"] == "y"
    assert "val_accuracy=" in (tmp_path / "v" / "train.log").read_text()
    model, _ = load_classifier(tmp_path / "v" / "best.safetensors")
    held = load_dataset(root, "train", num_points=64, progress=False).carve(0.25, 0)[1]
    assert evaluate(model, held).overall == pytest.approx(meta["val_accuracy"])
    train(dataclasses.replace(cfg, epochs=3), resume=True, progress=False)
    assert len(history(tmp_path / "v")) == 3
    copy = export_model(tmp_path / "v" / "best.safetensors", tmp_path / "c.safetensors")
    assert copy["val_objects"] == len(held) and 0 <= copy["val_accuracy"] <= 1
    assert copy["training"]["epochs_run"] == 3
    # the objects it was evaluated on are the split "validation" of every command
    subject = Subject(model=str(tmp_path / "v" / "best.safetensors"), data=str(root))
    explainer, _ = dataclasses.replace(subject, split="validation", judges="none").load(0)
    assert sorted(explainer.real.names) == sorted(held.names)
    with pytest.raises(FlowamError, match="--split validation: .* names none"):
        dataclasses.replace(subject, model=str(tiny_model), split="validation").load(0)
