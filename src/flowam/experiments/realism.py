"""Realism: does a classifier trained on one dataset recognise another's objects?

The bundled models learn from procedural shapes; this measures them on a real dataset
(e.g. genuine ModelNet40 files) over the classes the two share by name. The model
predicts among all of its own classes, so a real chair taken for a stool counts as
wrong. Output folder: ``realism.json`` (per-class accuracy and the confusion),
``confusion.png`` (rows the shared classes, columns every class of the model) and
``config.json``.
"""

from __future__ import annotations

from pathlib import Path

from flowam import cache
from flowam.fields import comma_list
from flowam.models.accuracy import Accuracy, evaluate
from flowam.render import render_confusion


def write_realism(result: Accuracy, out: Path, title: str, name: str = "realism.json") -> None:
    """``name`` (every prediction, per-class accuracy, the confusion) and
    ``confusion.png`` into ``out``."""
    cache.write_json(out / name, result.to_dict())
    render_confusion(
        result.confusion,
        result.shared,
        out / "confusion.png",
        title,
        predicted=result.model_classes,
    )


def measure_accuracy(
    out: Path,
    command: str,
    summary: str,
    *,
    model: str,
    data: str,
    split: str,
    format: str | None = None,
    num_points: int | None = None,
    sampling: str = "first",
    arch: str | None = None,
    num_classes: int | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> tuple[Accuracy, str]:
    """Per-class accuracy of ``model`` on the objects of the comma-separated ``split`` of
    ``data`` whose classes it has (labelled by the model's classes:
    :func:`flowam.data.load_for_model`); writes ``summary`` (JSON), ``confusion.png``
    and ``config.json`` (of ``command``) into ``out``. ``flowam eval-model`` and
    ``experiment realism``. Returns the result and its title."""
    from flowam.data import concatenate, load_for_model
    from flowam.models import load_classifier
    from flowam.outputs import write_config

    net, info = load_classifier(model, arch=arch, num_classes=num_classes, device=device)
    info.check_convention(data)
    points = num_points or info.num_points
    options = dict(format=format, num_points=points, sampling=sampling, seed=seed)
    real = concatenate(
        [load_for_model(info.classes, data, s, **options) for s in comma_list(split)]
    )
    result = evaluate(net, real, info.classes, device=device)
    title = f"{info.architecture} on {Path(data).name}: {result.overall:.0%} of its objects"
    write_realism(result, out, title, summary)
    record = dict(model=model, data=data, split=split, format=format, sampling=sampling, seed=seed)
    write_config(out, command, **record, num_points=points, arch=info.architecture)
    return result, f"{info.source} ({info.architecture}) on {data} ({split}, {points} points)"
