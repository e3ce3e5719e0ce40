"""Training and evaluating classifiers.

The recipe follows ``Pointnet_Pointnet2_pytorch``'s ``train_classification.py``: Adam
(lr 1e-3, weight decay 1e-4), StepLR (step 20, gamma 0.7), batch 24, random point
dropout (up to 87.5 %), random scaling (0.8–1.25) and shifting (±0.1), and for PointNet
the feature-transform regularizer with weight 0.001. Three augmentations beyond the
recipe, off by default, cover what differs between a generator and scanned meshes: turns
about the up axis (``yaw``), anisotropic scaling (``stretch``) and missing parts
(``drop_part``). Every value is a field of :class:`TrainConfig`, overridable from the
command line. ``init_weights`` starts from a
weights file of the same architecture and classes instead of a fresh initialisation
(continuing a run whose ``last.pt`` is gone, or fine-tuning).

A run writes into its output folder: ``config.json``; ``train.log`` (one line per epoch);
``last.pt`` (model, optimizer, scheduler and random states after the last finished epoch,
readable with ``torch.load(weights_only=True)``) from which ``resume=True`` continues
exactly; and ``best.safetensors`` + ``best.json``, the weights with the best test accuracy
and their metadata (architecture, classes, number of points, accuracy, dataset, command).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowam import cache, stopping
from flowam.data import PointCloudDataset, load_dataset
from flowam.errors import FlowamError
from flowam.fields import MIN_POINTS, described
from flowam.hooks import LayerRecorder
from flowam.models import get_model
from flowam.models.accuracy import evaluate
from flowam.models.checkpoint import save_model
from flowam.models.pointnet import feature_transform_regularizer
from flowam.ops import yaw_matrix
from flowam.speed import TRAINING_PATHS, Speed, switch_paths
from flowam.training import (
    SHARED_HELP,
    check_options,
    epoch_bar,
    epoch_batches,
    invoked_command,
    log_epoch,
    provenance,
    resumed,
    save_checkpoint,
)


@dataclass
class TrainConfig:
    """Everything that determines a training run (defaults: the reference recipe)."""

    model: str = described(
        "pointnet", "Architecture: pointnet, pointnet2_ssg, pointnet2_msg or dgcnn."
    )
    data: str = described("procedural", SHARED_HELP["data"])
    format: str | None = None
    up: str | None = field(
        default=None,
        metadata={"help": "The files' up axis, y or z (default: the format's; OFF meshes: z)."},
    )
    num_points: int = described(1024, SHARED_HELP["num_points"], min=MIN_POINTS)
    sampling: str = "first"
    train_per_class: int | None = described(None, SHARED_HELP["train_per_class"])
    test_per_class: int | None = described(None, SHARED_HELP["test_per_class"])
    init_weights: str | None = described(
        None, "A weights file of the same architecture and classes to start from."
    )
    epochs: int = described(200, "Epochs.")
    batch_size: int = described(24, "Clouds per batch.")
    lr: float = described(1e-3, "Adam's learning rate.")
    weight_decay: float = described(1e-4, "Adam's weight decay.")
    step_size: int = described(20, "Epochs between learning-rate decays.")
    gamma: float = described(0.7, "Factor of each learning-rate decay.")
    feature_transform_weight: float = described(
        0.001, "Weight of PointNet's feature-transform regularizer."
    )
    point_dropout: float = described(
        0.875, "Largest share of a training cloud's points replaced by its first."
    )
    scale_low: float = described(0.8, "Least random scale of a training cloud.")
    scale_high: float = described(1.25, "Largest random scale of a training cloud.")
    shift: float = described(0.1, "Largest random shift of a training cloud.")
    yaw: float = described(
        0.0, "Largest random turn about the up axis, in degrees (180: any facing)."
    )
    stretch: float = described(0.0, "Each axis scaled by U(1 - s, 1 + s) (0: off).")
    drop_part: float = described(
        0.0, "Chance that a training cloud loses 15-35 % of its points about one."
    )
    validation: float = field(
        default=0.0,
        metadata={
            "help": "Share of each class of the train split held out and evaluated on each "
            "epoch instead of the test split (0: the test split)."
        },
    )
    validation_seed: int = field(
        default=0, metadata={"help": "Seed of the validation carve-out (not --seed)."}
    )
    eval_batch_size: int = described(16, "Clouds per batch when evaluating.")
    seed: int = 0
    device: str = "cpu"
    speed: Speed = field(default_factory=Speed)  # only its TRAINING_PATHS apply in training
    out: str = "runs/train"
    command: str = field(default_factory=invoked_command)

    def check(self) -> None:
        """One-line errors for values that cannot work."""
        check_options(
            self,
            at_least_one=("num_points", "epochs", "batch_size", "step_size", "eval_batch_size")
            + ("train_per_class", "test_per_class"),
            non_negative=("lr", "weight_decay", "gamma", "feature_transform_weight", "shift"),
        )
        if not 0 <= self.point_dropout < 1:
            raise FlowamError("--point-dropout must be in [0, 1)")
        if not 0 <= self.yaw <= 180:
            raise FlowamError("--yaw must be in [0, 180] degrees")
        if not 0 <= self.stretch < 1:
            raise FlowamError("--stretch must be in [0, 1)")
        if not 0 <= self.drop_part <= 1:
            raise FlowamError("--drop-part must be in [0, 1]")
        if not 0 <= self.validation < 1:
            raise FlowamError("--validation must be in [0, 1) (0: evaluate on the test split)")
        if not 0 < self.scale_low <= self.scale_high:
            raise FlowamError("--scale-low and --scale-high must satisfy 0 < low <= high")


def training_splits(config: TrainConfig) -> tuple[PointCloudDataset, PointCloudDataset]:
    """The split a run trains on and the one it is evaluated on each epoch: the dataset's
    test split, or where ``config.validation`` is set, that share of each class carved out
    of the train split (:meth:`PointCloudDataset.carve`, seeded by ``validation_seed``),
    so that a dataset's test split can stay held out (and a train-only dataset trains)."""

    def load(split: str, per_class: int | None = None) -> PointCloudDataset:
        return load_dataset(
            config.data,
            split,
            format=config.format,
            num_points=config.num_points,
            sampling=config.sampling,
            per_class=per_class,
            up=config.up,
        )

    if not config.validation:
        return load("train", config.train_per_class), load("test", config.test_per_class)
    train, held = load("train").carve(config.validation, config.validation_seed)
    limits = (config.train_per_class, config.test_per_class)
    return tuple(
        d if k is None else d.first_per_class(k) for d, k in zip((train, held), limits, strict=True)
    )


def augmentations(config: TrainConfig) -> dict[str, Any]:
    """The augmentations a run trained with, as a model's metadata states them.
    ``turns_about_up`` is true for turns over the whole circle (``yaw`` 180): such a
    model cannot prefer a facing, and scores against real objects then allow a turn."""
    return {
        "point_dropout": config.point_dropout,
        "scale": [config.scale_low, config.scale_high],
        "shift": config.shift,
        "yaw_degrees": config.yaw,
        "stretch": config.stretch,
        "drop_part": config.drop_part,
        "turns_about_up": config.yaw >= 180,
    }


def augment(points: Tensor, config: TrainConfig, gen: torch.Generator) -> Tensor:
    """Random point dropout, scaling and shifting of a ``(B, N, 3)`` batch (a new tensor),
    then, where asked for, missing parts, anisotropic scaling and turns about ``y``.

    Dropout draws a ratio ``r ~ U(0, point_dropout)`` per cloud and replaces each point
    with probability ``r`` by the cloud's first point, as the reference does. With
    probability ``drop_part`` a cloud loses a part: the 15–35 % of its points nearest a
    random one of them, replaced by random others (a scan that missed a side). ``stretch``
    scales each axis by ``U(1 - s, 1 + s)``; ``yaw`` turns the cloud by ``U(-yaw, yaw)``
    degrees about the up axis. The three draw nothing when off, so the reference recipe's
    random stream is unchanged.
    """
    b, n, _ = points.shape
    ratio = torch.rand(b, 1, generator=gen) * config.point_dropout
    drop = torch.rand(b, n, generator=gen) <= ratio
    out = torch.where(drop[..., None], points[:, :1].expand_as(points), points)
    scale = torch.empty(b, 1, 1).uniform_(config.scale_low, config.scale_high, generator=gen)
    shift = torch.empty(b, 1, 3).uniform_(-config.shift, config.shift, generator=gen)
    out = out * scale + shift
    if config.drop_part > 0:
        out = _drop_parts(out, config.drop_part, gen)
    if config.stretch > 0:
        s = config.stretch
        out = out * torch.empty(b, 1, 3).uniform_(1 - s, 1 + s, generator=gen)
    if config.yaw > 0:
        angle = torch.empty(b).uniform_(-config.yaw, config.yaw, generator=gen).deg2rad()
        out = out @ yaw_matrix(angle)
    return out


def _drop_parts(points: Tensor, p: float, gen: torch.Generator) -> Tensor:
    """Each cloud, with probability ``p``, without the 15–35 % of its points nearest a
    random one of them; they are replaced by random points of the rest."""
    b, n, _ = points.shape
    hit = torch.rand(b, generator=gen) < p
    share = torch.empty(b).uniform_(0.15, 0.35, generator=gen)
    centre = torch.randint(0, n, (b,), generator=gen)
    fill = torch.randint(0, n, (b, n), generator=gen)
    out = points.clone()
    for i in torch.nonzero(hit).flatten().tolist():
        d = (points[i] - points[i, centre[i]]).square().sum(-1)
        gone = d.argsort()[: int(share[i] * n)]
        kept = torch.ones(n, dtype=torch.bool)
        kept[gone] = False
        rest = points[i, kept]
        out[i, gone] = rest[fill[i, : len(gone)] % len(rest)]
    return out


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor, ft_weight: float
) -> tuple[float, Tensor]:
    """One optimisation step on a ``(B, N, 3)`` batch with labels ``(B,)``.

    The loss is cross-entropy plus, for models with a ``feat.fstn`` feature transform
    (PointNet), ``ft_weight`` times its orthogonality regularizer. Returns the loss and
    the ``(B, C)`` logits.
    """
    regularize = ft_weight > 0 and "feat.fstn" in dict(model.named_modules())
    model.train()
    optimizer.zero_grad()
    with LayerRecorder(model, ["feat.fstn"] if regularize else []) as rec:
        logits = model(x)
    loss = F.cross_entropy(logits, y)
    if regularize:
        loss = loss + ft_weight * feature_transform_regularizer(rec["feat.fstn"])
    loss.backward()
    optimizer.step()
    return loss.item(), logits.detach()


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train a classifier; returns the metadata of the best checkpoint.

    Deterministic for ``config.seed`` on CPU: model initialisation, shuffling, dropout and
    augmentation all draw from seeded generators, whose states ``last.pt`` keeps for
    ``resume``.
    """
    config.check()
    out = Path(config.out)
    cache.make_folder(out)
    torch.manual_seed(config.seed)
    train_set, test_set = training_splits(config)
    key = "val" if config.validation else "test"
    model = get_model(config.model, len(train_set.classes), weights=config.init_weights)
    model = model.to(config.device)
    switch_paths(model, config.speed, paths=TRAINING_PATHS)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma)
    gen = torch.Generator().manual_seed(config.seed)
    state = {"epoch": 0, "best_accuracy": -1.0, "history": []}
    ckpt = resumed(out, config, ("model", "data")) if resume else None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        gen.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])
        state = {k: ckpt[k] for k in ("epoch", "best_accuracy", "history")}
    cache.write_json(out / "config.json", asdict(config))
    points = torch.from_numpy(train_set.points)
    labels = torch.from_numpy(train_set.labels)
    best_meta: dict[str, Any] = {}
    for epoch in range(state["epoch"], config.epochs):
        start = time.perf_counter()
        model.train()
        batches = epoch_batches(len(points), config.batch_size, gen)
        bar = epoch_bar(batches, epoch, config.epochs, progress)
        loss_sum, correct, seen = 0.0, 0, 0
        for idx in bar:
            stopping.check()  # last.pt of the previous epoch stays: --resume continues
            x = augment(points[idx], config, gen).to(config.device)
            y = labels[idx].to(config.device)
            loss, logits = train_step(model, optimizer, x, y, config.feature_transform_weight)
            loss_sum += loss * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        scheduler.step()
        result = evaluate(model, test_set, batch_size=config.eval_batch_size, device=config.device)
        record = {
            "epoch": epoch + 1,
            "loss": loss_sum / seen,
            "train_accuracy": correct / seen,
            f"{key}_accuracy": result.overall,
            f"{key}_class_accuracy": result.mean_class,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - start,
        }
        state["history"].append(record)
        log_epoch(out, record, progress)
        if result.overall > state["best_accuracy"]:
            state["best_accuracy"] = result.overall
            best_meta = {
                "architecture": config.model,
                "num_classes": len(train_set.classes),
                "classes": train_set.classes,
                "num_points": config.num_points,
                f"{key}_accuracy": result.overall,
                f"{key}_class_accuracy": result.mean_class,
                "evaluated_on": test_set.description,
                "up": "y",
                "augmentations": augmentations(config),
                "minutes_to_this_epoch": round(sum(r["seconds"] for r in state["history"]) / 60, 2),
                **provenance(epoch, train_set, config),
            }
            save_model(model, out / "best.safetensors", best_meta)
        state["epoch"] = epoch + 1
        ckpt = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "generator": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "config": asdict(config),
            **state,
        }
        save_checkpoint(out / "last.pt", ckpt)
    if not best_meta:
        meta_path = out / "best.json"
        best_meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return best_meta


def training_record(run: Path) -> dict[str, Any]:
    """Epochs, minutes and device of a run, read from its ``train.log`` and ``config.json``."""
    log = run / "train.log"
    if not log.is_file():
        return {}
    epochs = [
        dict(kv.split("=", 1) for kv in line.split())
        for line in log.read_text().split("\n")
        if line
    ]
    seconds = np.cumsum([float(e["seconds"]) for e in epochs])
    key = "val_accuracy" if "val_accuracy" in epochs[0] else "test_accuracy"
    best = int(np.argmax([float(e[key]) for e in epochs]))
    config = (
        json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else {}
    )
    device = config.get("device", "cpu")
    if device.startswith("cuda") and torch.cuda.is_available():
        device = f"{device} ({torch.cuda.get_device_name()})"
    return {
        "epochs_run": len(epochs),
        "best_epoch": best + 1,
        "minutes_to_best_epoch": round(float(seconds[best]) / 60, 1),
        "minutes_run": round(float(seconds[-1]) / 60, 1),
        "device": device,
    }


def export_model(
    weights: Path, out: Path, half: bool = True, note: str = "", data: str | None = None
) -> dict[str, Any]:
    """Copy a trained model to ``out`` (optionally float16), with its measured accuracy.

    The copy is evaluated where the run evaluated it: on the full procedural test split of
    the size it was trained with (for procedural data), or on its validation carve-out
    (for a run with ``validation``: the same share and seed of the train split, read from
    ``data`` where given, else from the run's own ``data``), so the metadata states the
    accuracy of the stored weights beside the float32 original's. ``training`` holds the
    run's epochs, minutes and device, read from ``train.log`` beside ``weights``.
    """
    from flowam.models import load_classifier

    model, info = load_classifier(weights)
    meta = dict(info.metadata)
    out = Path(out)
    save_model(model, out, meta, half=half)
    config = meta.get("config", {})
    held, key = None, "test"
    if meta.get("dataset", {}).get("format") == "procedural":
        held = load_dataset("procedural", "test", num_points=info.num_points)
    elif config.get("validation"):
        fields = {f: config[f] for f in TrainConfig.__dataclass_fields__ if f in config}
        fields.pop("speed", None)  # the splits do not depend on it
        held, key = (
            training_splits(TrainConfig(**{**fields, "data": data or config["data"]}))[1],
            "val",
        )
    if held is not None:
        copy, _ = load_classifier(out)
        meta[f"{key}_accuracy_float32"] = evaluate(model, held).overall
        result = evaluate(copy, held)
        meta[f"{key}_accuracy"], meta[f"{key}_class_accuracy"] = result.overall, result.mean_class
        meta[f"{key}_objects"] = len(held)
    meta["stored_dtype"] = "float16" if half else "float32"
    meta["training"] = {**training_record(Path(weights).parent), **({"note": note} if note else {})}
    cache.write_json(out.with_suffix(".json"), meta)
    return meta
