"""The training plumbing both trainers share (classifiers: :mod:`flowam.train`;
generators: :mod:`flowam.generative.training`): the options every training command
checks and describes alike, an epoch's batches, bar and log line, resumable checkpoints
and the provenance a saved model records.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from flowam import cache
from flowam.data import PointCloudDataset
from flowam.devices import check_device
from flowam.errors import FlowamError
from flowam.progress import bar as progress_bar


def invoked_command() -> str:
    """The ``flowam ...`` command line of this process, as a run's configs record it."""
    return shlex.join(["flowam", *sys.argv[1:]])


def check_options(config: Any, at_least_one: tuple[str, ...], non_negative: tuple[str, ...]):
    """One-line errors naming the option: fields that must be ≥ 1 (None allowed: unset),
    fields that must not be negative, the config's device and its output folder."""
    check_device(config.device)
    problem = cache.folder_problem(Path(config.out))
    if problem:
        raise FlowamError(f"--out {config.out}: {problem}")
    for name in at_least_one:
        if getattr(config, name) is not None and getattr(config, name) < 1:
            raise FlowamError(f"--{name.replace('_', '-')} must be at least 1")
    for name in non_negative:
        if getattr(config, name) < 0:
            raise FlowamError(f"--{name.replace('_', '-')} must not be negative")


SHARED_HELP = {
    "data": "Training data: 'procedural' or a dataset root.",
    "num_points": "Points per cloud.",
    "train_per_class": "Training objects per class (default: all).",
    "test_per_class": "Test objects per class (default: all).",
}
"""The help of the options every training command shares (classifiers and generators)."""


def epoch_batches(count: int, batch_size: int, gen: torch.Generator) -> list[Tensor]:
    """Shuffled index batches of one epoch; a last batch of one is dropped (batch norm)."""
    order = torch.randperm(count, generator=gen)
    batches = [order[i : i + batch_size] for i in range(0, count, batch_size)]
    return [b for b in batches if len(b) > 1]


def epoch_bar(batches: list[Tensor], epoch: int, epochs: int, progress: bool) -> tqdm:
    """The progress bar of one epoch (``epoch`` counted from 0)."""
    return progress_bar(
        batches, desc=f"epoch {epoch + 1}/{epochs}", progress=progress, leave=False, unit="batch"
    )


def log_epoch(out: Path, record: dict[str, Any], progress: bool, digits: int = 4) -> None:
    """Append one ``key=value`` line for an epoch to ``out/train.log`` (and show it)."""
    line = " ".join(
        f"{k}={v:.{digits}f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()
    )
    with open(out / "train.log", "a") as f:
        f.write(line + "\n")
    if progress:
        tqdm.write(line)


def provenance(epoch: int, data: PointCloudDataset, config: Any) -> dict[str, Any]:
    """What produced a saved model: its epoch (``epoch`` counted from 0), training data,
    command and full config (a dataclass with a ``command`` field)."""
    return {
        "epoch": epoch + 1,
        "dataset": data.description,
        "command": config.command,
        "config": asdict(config),
    }


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a resumable state (tensors and plain containers only) atomically."""
    with cache.atomic_path(path) as tmp:
        torch.save(state, tmp)


def resumed(out: Path, config: Any, same: Sequence[str]) -> dict[str, Any] | None:
    """The state ``out/last.pt`` holds for ``--resume`` (loaded with ``weights_only``), or
    None where there is none; one line where it was trained with other ``same`` fields."""
    last = out / "last.pt"
    if not last.is_file():
        return None
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    other = [f for f in same if ckpt["config"][f] != getattr(config, f)]
    if other:
        flags = "/".join(f"--{f}" for f in same)
        raise FlowamError(f"{last}: was trained with another {flags}; use another --out")
    return ckpt
