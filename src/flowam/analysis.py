"""Activation flow (Sec. III-B, Fig. 2) and the automatic choice of layers to align.

For every layer, the cosine similarity of flattened activations is averaged over

- pairs of real objects of the same class (``same``),
- pairs of real objects of different classes (``different``),
- an explanation and the real objects of its target class (one curve per method).

**The rule behind** ``align="auto"``. The paper picks the layers where raw (vanilla) AM
explanations differ most from real objects and sets their weights by hand. Here a layer
``l`` is a candidate when its activation describes the whole cloud: its size does not
change with the number of input points and it does not change when the points are
permuted (per-point layers such as PointNet's 1×1 convolutions fail this; the paper
excludes them for the same reason). The model's output layer is never a candidate. Each
candidate gets the score

    s_l = max(same_l − different_l, 0) · max(same_l − vanilla_l, 0)

— the layer must separate classes (so it carries class information, the "outline") and
raw AM must miss what real objects of the class share there (so aligning it changes
something). Layers scoring at least ``keep`` (default 10 %) of the best score are aligned,
with weight ``α_l = s_l / max s``: the most informative layer gets weight 1, as the paper's
``fc2`` does, and the rest in proportion, so the rule needs no per-model tuning and
applies to any architecture whose layers can be hooked.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from flowam import cache
from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.stats import model_fingerprint, record

GLOBAL_TOLERANCE = 0.999


def hookable_layers(model: nn.Module) -> list[str]:
    """Names of the model's linear and convolution layers, in definition order."""
    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d)
    return [name for name, m in model.named_modules() if name and isinstance(m, kinds)]


@torch.no_grad()
def global_layers(model: nn.Module, layers: list[str], num_points: int, seed: int = 0) -> list[str]:
    """The layers whose activation describes the whole cloud (see the module docstring).

    Probed with a random cloud: the activation's size must be the same for ``num_points``
    and ``2 * num_points`` points, and permuting the points must leave it unchanged
    (cosine similarity at least :data:`GLOBAL_TOLERANCE`).
    """
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    cloud = (torch.rand(1, num_points, 3, generator=g) * 1.6 - 0.8).to(device)
    perm = torch.randperm(num_points, generator=g)
    other = torch.cat([cloud, cloud + 0.01], dim=1)
    base = record(model, torch.cat([cloud, cloud[:, perm]]), layers)
    grown = record(model, other, layers)
    keep = []
    for name in layers:
        a, b = base[name][0], base[name][1]
        same_size = grown[name].shape[1] == a.shape[0]
        invariant = torch.nn.functional.cosine_similarity(a, b, dim=0) >= GLOBAL_TOLERANCE
        if same_size and bool(invariant):
            keep.append(name)
    return keep


def _cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    a = torch.nn.functional.normalize(a, dim=1)
    b = torch.nn.functional.normalize(b, dim=1)
    return (a @ b.T).numpy()


@dataclass
class FlowAnalysis:
    """Mean cosine similarities per layer (see the module docstring).

    Attributes:
        layers: layer names, in model order.
        same, different: ``(L,)`` similarities of real same-class / different-class pairs.
        explanations: ``{label: (L,)}`` similarity of explanations to real objects of their
            target class.
        candidates: the layers that describe the whole cloud.
        output_layer: the layer whose activation is the model's output (never aligned).
    """

    layers: list[str]
    same: np.ndarray
    different: np.ndarray
    explanations: dict[str, np.ndarray] = field(default_factory=dict)
    candidates: list[str] = field(default_factory=list)
    output_layer: str | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        for k in ("same", "different"):
            out[k] = out[k].tolist()
        out["explanations"] = {k: v.tolist() for k, v in self.explanations.items()}
        return out


def real_sample(real: PointCloudDataset, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_class`` objects of every class: points and labels."""
    idx = np.concatenate(
        [np.flatnonzero(real.labels == c)[:per_class] for c in range(len(real.classes))]
    )
    return real.points[idx], real.labels[idx]


def check_coverage(real: PointCloudDataset) -> None:
    """The analysis compares real objects of one class with those of others: a one-line
    error where they cover fewer than two classes."""
    if len(real.covered) < 2:
        raise FlowamError(
            "the activation-flow analysis compares real objects of different classes; "
            f"these cover {len(real.covered)} ({', '.join(real.covered)}): explain with "
            "fixed layers (flow) or against data of more classes"
        )


def activation_flow(
    model: nn.Module,
    real: PointCloudDataset,
    explanations: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    per_class: int = 3,
    layers: list[str] | None = None,
) -> FlowAnalysis:
    """Similarities of activations per layer (Fig. 2).

    Args:
        model: the classifier.
        real: real objects (``per_class`` of each class are used).
        explanations: ``{label: (points (B, N, 3), targets (B,))}``.
        per_class: real objects per class.
        layers: layers to analyse (default: every linear and convolution layer).
    """
    check_coverage(real)
    layers = layers or hookable_layers(model)
    pts, labels = real_sample(real, per_class)
    seen_classes = set(labels.tolist())
    same_mask = labels[:, None] == labels[None]
    off_diag = ~np.eye(len(labels), dtype=bool)
    same: dict[str, float] = {}
    different: dict[str, float] = {}
    sims: dict[str, dict[str, float]] = {k: {} for k in explanations or {}}
    output_layer = None
    logits = record(model, pts[:2], ["logits"])["logits"]
    found = global_layers(model, layers, real.num_points)
    # the global layers' activations are small: recorded in one pass; a per-point layer
    # alone, dropped before the next, which keeps memory small
    for group in [found] + [[name] for name in layers if name not in found]:
        if not group:
            continue
        acts = record(model, pts, group)
        seen = {k: record(model, p, group) for k, (p, _) in (explanations or {}).items()}
        for name in group:
            s = _cosine_matrix(acts[name], acts[name])
            same[name] = float(s[same_mask & off_diag].mean())
            different[name] = float(s[~same_mask].mean())
            layer = acts[name]
            if layer.shape[1] == logits.shape[1] and torch.allclose(layer[:2], logits, atol=1e-4):
                output_layer = name
            for label, (_, targets) in (explanations or {}).items():
                m = _cosine_matrix(seen[label][name], layer)
                # explanations of classes without real objects have nothing to match
                sims[label][name] = float(
                    np.mean(
                        [
                            m[i, labels == t].mean()
                            for i, t in enumerate(targets)
                            if t in seen_classes
                        ]
                    )
                )
    candidates = [n for n in found if n != output_layer]
    return FlowAnalysis(
        layers,
        np.array([same[n] for n in layers]),
        np.array([different[n] for n in layers]),
        {k: np.array([v[n] for n in layers]) for k, v in sims.items()},
        candidates,
        output_layer,
    )


def choose_alignment(flow: FlowAnalysis, reference: str = "vanilla", keep: float = 0.1):
    """Layer weights by the rule of the module docstring: ``{layer: α_l}``."""
    raw = flow.explanations[reference]
    score = {}
    for i, name in enumerate(flow.layers):
        if name in flow.candidates:
            score[name] = max(flow.same[i] - flow.different[i], 0.0) * max(
                flow.same[i] - raw[i], 0.0
            )
    best = max(score.values(), default=0.0)
    if best <= 0:
        return {}
    return {n: float(round(s / best, 4)) for n, s in score.items() if s >= keep * best}


@dataclass
class AutoAlignment:
    """The outcome of ``align="auto"``: weights, the analysis behind them, and the cache
    key of the model, real objects and settings it was computed for."""

    weights: dict[str, float]
    analysis: FlowAnalysis
    key: str = ""

    def to_dict(self) -> dict:
        return {"key": self.key, "weights": self.weights, "analysis": self.analysis.to_dict()}

    @classmethod
    def read(cls, path: Path) -> AutoAlignment | None:
        """The alignment saved in ``path`` (:meth:`to_dict`), or None where it is
        missing, unreadable or stale."""
        try:
            saved = json.loads(path.read_text())
            flow = saved["analysis"]
            analysis = FlowAnalysis(
                flow["layers"],
                np.array(flow["same"]),
                np.array(flow["different"]),
                {k: np.array(v) for k, v in flow["explanations"].items()},
                flow["candidates"],
                flow["output_layer"],
            )
            return cls(saved["weights"], analysis, saved.get("key", ""))
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            return None


SHIPPED = "*.flow.json"
"""The analyses shipped beside the bundled weights (``weights/<arch>_procedural.flow.json``,
the ``flow.json`` that ``flowam analyze --model bundled:<arch>`` writes)."""


def shipped_alignment(key: str) -> AutoAlignment | None:
    """The shipped analysis computed for cache key ``key``, if there is one."""
    folder = Path(str(resources.files("flowam") / "weights"))
    for path in sorted(folder.glob(SHIPPED)):
        found = AutoAlignment.read(path)
        if found is not None and found.key == key:
            return found
    return None


def alignment_key(explainer, steps: int = 100, seed: int = 0) -> str:
    """The cache key of ``align="auto"`` for the explainer's model and real objects."""
    return cache.key(
        {
            "model": model_fingerprint(explainer.model),
            "data": explainer.real.description,
            "n": len(explainer.real),
            "steps": steps,
            "seed": seed,
            "what": "auto-align",
        }
    )


def auto_alignment(explainer, steps: int = 100, seed: int = 0, progress: bool = True):
    """Run raw (vanilla) AM for every class, analyse the flow and choose the layers.

    Args:
        explainer: a :class:`flowam.explain.Explainer` (model and real objects). A vanilla
            run it has already done with the same steps and seed is reused.
        steps: steps of the raw AM.
        seed: its seed.
        progress: show a progress bar.

    Returns an :class:`AutoAlignment`, cached on disk by model weights, real objects and
    settings. For the bundled models on the procedural test split at their own number of
    points, the analysis ships with the weights (:func:`shipped_alignment`), so the first
    run does not compute it.
    """
    key = alignment_key(explainer, steps, seed)
    path = cache.cache_dir() / "stats" / f"auto-{key}.json"
    found = AutoAlignment.read(path) if path.is_file() else None
    found = found or shipped_alignment(key)
    if found is not None:
        return AutoAlignment(found.weights, found.analysis, key)
    check_coverage(explainer.real)
    raw = explainer.explain(None, "vanilla", run={"steps": steps}, seed=seed, progress=progress)
    analysis = activation_flow(
        explainer.model, explainer.real, {"vanilla": (raw.points, raw.targets)}
    )
    auto = AutoAlignment(choose_alignment(analysis), analysis, key)
    cache.keep(path, auto.to_dict(), cache.write_json)
    return auto


def plot_flow(flow: FlowAnalysis, path: str | Path, weights: dict[str, float] | None = None):
    """A picture like the paper's Fig. 2: similarity per layer, one curve per comparison.

    Aligned layers (``weights``) are marked on the x-axis with their weight.
    """
    from flowam.render import save_figure

    x = np.arange(len(flow.layers))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(x)), 4.2))
    ax.plot(x, flow.same, "o-", color="tab:red", label="real, same class")
    ax.plot(x, flow.different, "o-", color="tab:blue", label="real, different classes")
    colours = iter(["tab:purple", "black", "tab:green", "tab:orange", "tab:brown"])
    for label, values in flow.explanations.items():
        ax.plot(x, values, "s--", color=next(colours), label=f"{label} AM vs real")
    names = []
    for n in flow.layers:
        w = (weights or {}).get(n)
        names.append(f"{n}  [{w:g}]" if w else n)
    ax.set_xticks(x, names, rotation=75, fontsize=7, ha="right")
    for i, n in enumerate(flow.layers):
        if n not in flow.candidates:
            ax.get_xticklabels()[i].set_color("0.55")
    ax.set_ylabel("cosine similarity of activations")
    ax.set_ylim(min(-0.05, float(np.min([flow.different, *flow.explanations.values()]))), 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("activation flow (grey: per-point layers; [w]: auto alignment weight)", fontsize=9)
    return save_figure(fig, path)
