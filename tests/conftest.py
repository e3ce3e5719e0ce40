"""Shared test set-up: a private cache folder, and helpers to run the CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELNET_SAMPLE = SHARED / "data" / "modelnet40_normal_resampled_sample"
MODELNET10 = SHARED / "data" / "modelnet10_hdf5_1024"

torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Point the cache at a folder of this test session, shared by its tests."""
    path = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("FLOWAM_CACHE_DIR", str(path))
    yield path
    mp.undo()


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of this test alone."""
    path = tmp_path / "cache"
    monkeypatch.setenv("FLOWAM_CACHE_DIR", str(path))
    return path


def run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str, str]:
    """Run ``flowam ARGS`` in-process through the real entry point; (status, stdout, stderr)."""
    from flowam.cli import main

    monkeypatch.setattr(sys, "argv", ["flowam", *args])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """Two classes (boxes and cones) of 12 objects each, split by folders."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    meshes = {
        "box": lambda s: trimesh.creation.box(extents=s),
        "cone": lambda s: trimesh.creation.cone(s[0], s[1]),
    }
    for name, make in meshes.items():
        for split, n in (("train", 8), ("test", 4)):
            folder = root / name / split
            folder.mkdir(parents=True)
            for i in range(n):
                mesh = make(rng.uniform(0.5, 1.5, size=3))
                pts = trimesh.sample.sample_surface(mesh, 96, seed=rng)[0]
                np.save(folder / f"{name}_{i}.npy", pts.astype(np.float32))
    return root


@pytest.fixture(scope="session")
def tiny_model(tiny_data, tmp_path_factory):
    """A PointNet trained for one epoch on ``tiny_data`` (64 points): its weights file."""
    from flowam.train import train

    out = tmp_path_factory.mktemp("tiny_model")
    train(tiny_config(tiny_data, out, epochs=2), progress=False)
    return out / "best.safetensors"


def tiny_config(tiny_data, out, **overrides):
    """A training config for ``tiny_data``: 64 points, batches of 4, 3 epochs."""
    from flowam.train import TrainConfig

    base = dict(
        data=str(tiny_data),
        num_points=64,
        epochs=3,
        batch_size=4,
        eval_batch_size=8,
        out=str(out),
        seed=0,
    )
    return TrainConfig(**{**base, **overrides})


SMALL_CLASSES = ["a", "b", "c"]


@pytest.fixture(scope="session")
def small_model():
    """An untrained PointNet of three classes (seeded), in eval mode."""
    import torch

    from flowam.models import get_model

    torch.manual_seed(0)
    return get_model("pointnet", 3).eval()


@pytest.fixture(scope="session")
def small_real():
    """Nine random 48-point clouds, three per class of :data:`SMALL_CLASSES`."""
    from flowam.data import PointCloudDataset

    rng = np.random.default_rng(0)
    pts = rng.uniform(-0.8, 0.8, size=(9, 48, 3)).astype(np.float32)
    return PointCloudDataset(
        pts, np.repeat([0, 1, 2], 3), SMALL_CLASSES, description={"format": "test-engine"}
    )


def trained_like(seed=0):
    """A PointNet whose parameters (batch norm included) differ from any fresh init."""
    from flowam.models import get_model

    torch.manual_seed(seed)
    model = get_model("pointnet", 3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def cli_commands() -> dict[tuple[str, ...], object]:
    """``{words: click command}`` of every command of the CLI, found in the CLI itself."""
    from typer.main import get_command

    from flowam.cli import app

    found = {}

    def walk(cmd, words):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, (*words, name))
        else:
            found[words] = cmd

    walk(get_command(app), ())
    return found


def with_arguments(words: tuple[str, ...], cmd) -> list[str]:
    """A command's words and a placeholder for each of its positional arguments."""
    return [*words, *("x" for p in cmd.params if p.param_type_name == "argument")]
