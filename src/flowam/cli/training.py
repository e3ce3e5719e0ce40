"""Training, exporting and evaluating classifiers and generators: ``flowam train``,
``train-generator``, ``export-model``, ``export-generator`` and ``eval-model``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowam.cli.options import EXPORT, Opt, built, command, console, out_console, write_page
from flowam.generative import GeneratorConfig
from flowam.outputs import rich_table
from flowam.speed import TRAINING_PATHS, Speed
from flowam.train import TrainConfig


def _stated(meta: dict) -> str:
    """The accuracy a training record states: on the validation carve-out or the test split."""
    key, split = ("val", "validation") if "val_accuracy" in meta else ("test", "test")
    return f"{split} accuracy {meta.get(f'{key}_accuracy', float('nan')):.4f}"


def _checked(config: type) -> Callable[[dict], None]:
    """A training command's check of its configuration, before its --out is touched."""

    def check(options: dict) -> None:
        built(config, {k: v for k, v in options.items() if k != "resume"}).check()

    return check


TRAINING_SKIPS = ("command", *(f for f in Speed.__dataclass_fields__ if f not in TRAINING_PATHS))
"""Fields of a training run that are no options of ``flowam train``: its command line, and
the speed options that apply only to a frozen model."""


@command(fields=TrainConfig, skip=TRAINING_SKIPS, check=_checked(TrainConfig))
def train(config: TrainConfig, resume=False) -> None:
    """Train a classifier (defaults: the Pointnet_Pointnet2_pytorch recipe)."""
    from flowam.train import train as run

    meta = run(config, resume=resume)
    weights = Path(config.out) / "best.safetensors"
    console.print(f"best {_stated(meta)} (epoch {meta.get('epoch')}); weights in {weights}")


@command(fields=GeneratorConfig, skip=("command",), check=_checked(GeneratorConfig))
def train_generator(config: GeneratorConfig, resume=False) -> None:
    """Train a generative baseline: an autoencoder (ae), with a discriminator (aed), with
    latent noise too (naed)."""
    from flowam.generative import train_generator as run

    meta = run(config, resume=resume)
    console.print(
        f"best test reconstruction CD {meta.get('test_chamfer', float('nan')):.4f} "
        f"(epoch {meta.get('epoch')}); weights in {Path(config.out) / 'best.safetensors'}"
    )


@command(claims=False, own={"out": EXPORT})
def export_generator(weights, out, half=True) -> None:
    """Copy a trained generator (float16 by default) with its reconstruction Chamfer
    distance measured on the copy over the full test split."""
    from flowam.generative.training import export_generator as run

    meta = run(weights, out, half=half)
    console.print(
        f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, {meta['stored_dtype']}); "
        f"test reconstruction CD {meta['test_chamfer']:.4f} on {meta['test_objects']} objects"
    )


@command(
    claims=False,
    own={
        "out": EXPORT,
        "data": Opt(str | None, "Where the run's dataset lies now (default: its --data)."),
    },
)
def export_model(weights, out, half=True, note="", data=None) -> None:
    """Copy a trained model (float16 by default) with its accuracy measured on the copy.

    Deterministic, so it takes no --seed: the test split is the one the model's metadata
    names.
    """
    from flowam.train import export_model as run

    meta = run(weights, out, half=half, note=note, data=data)
    size = f"{out.stat().st_size / 2**20:.1f} MiB, {meta['stored_dtype']}"
    console.print(f"wrote {out} ({size}); {_stated(meta)}")


ACCURACY = dict(
    model="bundled",
    data="procedural",
    split="test",
    format=None,
    num_points=None,
    sampling="first",
    arch=None,
    num_classes=None,
    device="cpu",
    seed=0,
)
"""The options of ``eval-model`` (and of ``experiment realism``), for
:func:`flowam.experiments.realism.measure_accuracy`."""


def measured(name: str, out: Path, summary: str, report: bool, **options: Any) -> None:
    """The table, ``summary``, the confusion and the page."""
    from flowam.experiments.realism import measure_accuracy

    result, title = measure_accuracy(out, name, summary, **options)
    out_console.print(rich_table(title, *result.rows()))
    console.print(f"wrote {out / summary} and {out / 'confusion.png'}")
    write_page(out, report)


@command(more=ACCURACY)
def eval_model(out=Path("runs/eval"), **options: Any) -> None:
    """Overall and per-class accuracy of a classifier, and a confusion-matrix picture."""
    measured("eval-model", out, "eval.json", False, **options)
