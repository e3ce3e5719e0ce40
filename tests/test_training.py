"""flowam.training: the plumbing both trainers share — an epoch's batches and log line,
the options every training command checks, resumable checkpoints."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from flowam.errors import FlowamError
from flowam.training import check_options, epoch_batches, log_epoch, resumed, save_checkpoint


def test_an_epoch_visits_every_object_once_and_drops_a_last_batch_of_one():
    batches = epoch_batches(9, 4, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4, 4]  # the ninth object alone would break batch norm
    seen = torch.cat(batches)
    assert len(set(seen.tolist())) == 8 and seen.max() < 9
    again = epoch_batches(9, 4, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))  # seeded


@dataclass
class Options:
    epochs: int = 2
    lr: float = 0.1
    device: str = "cpu"
    out: str = "runs/x"
    model: str = "pointnet"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 0}, "--epochs must be at least 1"),
        ({"lr": -1.0}, "--lr must not be negative"),
        ({"device": "tpu"}, "tpu"),
    ],
)
def test_bad_options_are_one_line_naming_the_flag(change, message, tmp_path):
    config = Options(out=str(tmp_path / "run"), **change)
    with pytest.raises(FlowamError, match=message):
        check_options(config, at_least_one=("epochs",), non_negative=("lr",))
    check_options(Options(out=str(tmp_path / "run")), ("epochs",), ("lr",))  # the defaults fit


def test_an_epoch_is_one_line_of_the_log(tmp_path):
    log_epoch(tmp_path, {"epoch": 1, "loss": 0.123456}, progress=False)
    log_epoch(tmp_path, {"epoch": 2, "loss": 0.1}, progress=False, digits=2)
    assert (tmp_path / "train.log").read_text().splitlines() == [
        "epoch=1 loss=0.1235",
        "epoch=2 loss=0.10",
    ]


def test_a_run_resumes_only_the_training_it_was(tmp_path):
    assert resumed(tmp_path, Options(), ("model",)) is None  # nothing to resume
    state = {"epoch": 3, "config": {"model": "pointnet"}, "weights": torch.ones(2)}
    save_checkpoint(tmp_path / "last.pt", state)
    back = resumed(tmp_path, Options(), ("model",))
    assert back["epoch"] == 3 and torch.equal(back["weights"], torch.ones(2))
    with pytest.raises(FlowamError, match="last.pt: was trained with another --model"):
        resumed(tmp_path, Options(model="dgcnn"), ("model",))
