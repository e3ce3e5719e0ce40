"""Shared test set-up: a private cache folder, and helpers to run the CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELNET_SAMPLE = SHARED / "data" / "modelnet40_normal_resampled_sample"

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
