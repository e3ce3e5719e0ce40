"""Training the generative baselines, and loading them.

Schedule (one epoch = one pass over the shuffled training split, Adam for every network):

- ``ae``: the autoencoder minimises the symmetric Chamfer distance (squared distances,
  mean over points both ways, as Achlioptas et al.) between each cloud and its
  reconstruction.
- ``aed``: every batch, first one discriminator step — binary cross-entropy of real
  clouds against 1 and of (detached) reconstructions against 0 — then one autoencoder
  step on the Chamfer loss plus ``adversarial`` times the cross-entropy of the
  discriminator's verdict on the reconstructions against 1 ("look real").
- ``naed``: as ``aed``, with Gaussian noise of standard deviation ``latent_noise`` added
  to every latent code before decoding, in every training batch (so the decoder learns a
  neighbourhood of each code, not single points).

Both networks are in training mode while they learn and gradients are zeroed before
every step (the public scripts of the original work got both wrong). After each epoch
the reconstruction Chamfer distance (Eq. 7's unsquared distances, both ways) is measured
on the test split; the best epoch is kept.

A run writes into its folder, like classifier training: ``config.json``, ``train.log``,
``last.pt`` (every state, read with ``weights_only=True``; ``resume`` continues from it)
and ``best.safetensors`` + ``best.json`` (kind, points, latent size, test Chamfer
distance, dataset, command).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from flowam import cache, stopping
from flowam.data import PointCloudDataset, load_dataset
from flowam.errors import FlowamError
from flowam.fields import MIN_POINTS, described
from flowam.generative.networks import KINDS, Generator
from flowam.metrics.chamfer import chamfer_distance
from flowam.models.checkpoint import (
    CheckpointError,
    load_state,
    read_metadata,
    read_state_dict,
    save_model,
)
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
class GeneratorConfig:
    """Everything that determines a generator's training run."""

    kind: str = described(
        "ae", "ae (an autoencoder), aed (with a discriminator) or naed (latent noise too)."
    )
    data: str = described("procedural", SHARED_HELP["data"])
    format: str | None = None
    num_points: int = described(512, SHARED_HELP["num_points"], min=MIN_POINTS)
    latent: int = described(128, "Size of the latent code.")
    epochs: int = described(60, "Epochs.")
    batch_size: int = described(32, "Clouds per batch (at least 2: batch norm).")
    lr: float = described(5e-4, "Adam's learning rate.")
    adversarial: float = described(0.01, "Weight of the discriminator's loss (aed, naed).")
    latent_noise: float = described(0.1, "Scale of the noise added to latent codes (naed).")
    train_per_class: int | None = described(None, SHARED_HELP["train_per_class"])
    test_per_class: int | None = described(None, SHARED_HELP["test_per_class"])
    seed: int = 0
    device: str = "cpu"
    out: str = "runs/generator"
    command: str = field(default_factory=invoked_command)

    def check(self) -> GeneratorConfig:
        if self.kind not in KINDS:
            raise FlowamError(f"--kind {self.kind!r}: choose one of {', '.join(KINDS)}")
        check_options(
            self,
            at_least_one=("epochs", "batch_size", "num_points", "latent")
            + ("train_per_class", "test_per_class"),
            non_negative=("lr", "adversarial", "latent_noise"),
        )
        if self.batch_size < 2:
            raise FlowamError("--batch-size must be at least 2 (batch norm)")
        return self


def reconstruction_loss(points: Tensor, recon: Tensor) -> Tensor:
    """Mean symmetric Chamfer distance with squared distances (the training loss)."""
    return chamfer_distance(recon, points, single_directional=False, squared=True).mean()


@torch.no_grad()
def reconstruction_distances(generator: Generator, data: PointCloudDataset, batch: int = 64):
    """``(M,)`` symmetric Chamfer distance (unsquared, Eq. 7 both ways) between each object
    of ``data`` and its reconstruction."""
    generator.eval()
    device = next(generator.parameters()).device
    out = []
    for i in range(0, len(data), batch):
        x = torch.from_numpy(data.points[i : i + batch]).to(device)
        out.append(chamfer_distance(generator.ae(x), x, single_directional=False).double())
    return torch.cat(out).cpu().numpy()


def reconstruction_distance(generator: Generator, data: PointCloudDataset, batch: int = 64):
    """Mean of :func:`reconstruction_distances` over the objects of ``data``."""
    return float(reconstruction_distances(generator, data, batch).mean())


def reconstruction_by_class(generator: Generator, data: PointCloudDataset) -> dict[str, float]:
    """The mean reconstruction distance of each class of ``data`` that has objects."""
    d = reconstruction_distances(generator, data)
    return {
        c: float(d[data.labels == k].mean())
        for k, c in enumerate(data.classes)
        if (data.labels == k).any()
    }


def _step(generator, optimizers, x: Tensor, config: GeneratorConfig, gen) -> dict[str, float]:
    """One batch: the discriminator's step (aed/naed), then the autoencoder's."""
    ae, disc = generator.ae, generator.discriminator
    generator.train()
    code = ae.encode(x)
    if config.kind == "naed" and config.latent_noise:
        noise = torch.randn(code.shape, generator=gen).to(code)
        code = code + config.latent_noise * noise
    recon = ae.decode(code)
    out = {}
    if disc is not None:
        optimizers["discriminator"].zero_grad()
        real, fake = disc(x), disc(recon.detach())
        d_loss = F.binary_cross_entropy_with_logits(
            real, torch.ones_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        d_loss.backward()
        optimizers["discriminator"].step()
        out["d_loss"] = d_loss.item()
    optimizers["ae"].zero_grad()
    loss = reconstruction_loss(x, recon)
    out["cd_loss"] = loss.item()
    if disc is not None:
        verdict = disc(recon)
        loss = loss + config.adversarial * F.binary_cross_entropy_with_logits(
            verdict, torch.ones_like(verdict)
        )
    loss.backward()
    optimizers["ae"].step()
    return out


def train_generator(
    config: GeneratorConfig, resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Train a generator (see the module docstring); returns the best epoch's metadata.

    Deterministic for ``config.seed`` on the CPU; ``last.pt`` keeps every random state.
    """
    config.check()
    out = Path(config.out)
    cache.make_folder(out)
    torch.manual_seed(config.seed)
    train_set, test_set = (
        load_dataset(
            config.data, split, format=config.format, num_points=config.num_points, per_class=n
        )
        for split, n in (("train", config.train_per_class), ("test", config.test_per_class))
    )
    generator = Generator(config.kind, config.num_points, config.latent).to(config.device)
    optimizers = {"ae": torch.optim.Adam(generator.ae.parameters(), lr=config.lr)}
    if generator.discriminator is not None:
        optimizers["discriminator"] = torch.optim.Adam(
            generator.discriminator.parameters(), lr=config.lr
        )
    gen = torch.Generator().manual_seed(config.seed)
    state: dict[str, Any] = {"epoch": 0, "best": float("inf"), "history": []}
    ckpt = resumed(out, config, ("kind", "data")) if resume else None
    if ckpt is not None:
        generator.load_state_dict(ckpt["generator"])
        for name, opt in optimizers.items():
            opt.load_state_dict(ckpt["optimizers"][name])
        gen.set_state(ckpt["rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        state = {k: ckpt[k] for k in state}
    cache.write_json(out / "config.json", asdict(config))
    points = torch.from_numpy(train_set.points)
    best_meta: dict[str, Any] = {}
    for epoch in range(state["epoch"], config.epochs):
        start = time.perf_counter()
        batches = epoch_batches(len(points), config.batch_size, gen)
        bar = epoch_bar(batches, epoch, config.epochs, progress)
        sums: dict[str, float] = {}
        for idx in bar:
            stopping.check()  # last.pt of the previous epoch stays: --resume continues
            losses = _step(generator, optimizers, points[idx].to(config.device), config, gen)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v * len(idx)
            bar.set_postfix(cd=f"{losses['cd_loss']:.4f}")
        seen = sum(len(b) for b in batches)
        test_cd = reconstruction_distance(generator, test_set)
        record = {
            "epoch": epoch + 1,
            **{k: v / seen for k, v in sums.items()},
            "test_chamfer": test_cd,
            "seconds": time.perf_counter() - start,
        }
        state["history"].append(record)
        log_epoch(out, record, progress, digits=5)
        if test_cd < state["best"]:
            state["best"] = test_cd
            best_meta = {
                "kind": config.kind,
                "num_points": config.num_points,
                "latent": config.latent,
                "test_chamfer": test_cd,
                "test_objects": len(test_set),
                **provenance(epoch, train_set, config),
            }
            save_model(generator, out / "best.safetensors", best_meta)
        state["epoch"] = epoch + 1
        ckpt = {
            "generator": generator.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "rng": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "config": asdict(config),
            **state,
        }
        save_checkpoint(out / "last.pt", ckpt)
    if not best_meta:
        best_meta = read_metadata(out / "best.safetensors") or {}
    return best_meta


BUNDLED_PREFIX = "bundled:"


def bundled_generator_path(kind: str) -> Path:
    """Where the bundled generator of ``kind`` lies inside the installed package."""
    # not "<arch>_procedural.safetensors": that name is the bundled classifiers'
    return Path(str(resources.files("flowam") / "weights" / f"generator_{kind}.safetensors"))


def resolve_generator(spec: str | Path) -> Path:
    """The file of a generator spec: ``bundled:<kind>`` or a path."""
    text = str(spec)
    if not text.startswith(BUNDLED_PREFIX):
        return Path(text).expanduser()
    path = bundled_generator_path(text.removeprefix(BUNDLED_PREFIX))
    if not path.is_file():
        known = sorted(
            f"{BUNDLED_PREFIX}{p.stem.removeprefix('generator_')}"
            for p in path.parent.glob("generator_*.safetensors")
        )
        raise CheckpointError(
            f"{text}: no bundled generator of that name; bundled: {', '.join(known) or 'none'}"
        )
    return path


def generator_name(spec: str | Path) -> str:
    """A short name of a generator spec for labels: a bundled generator's kind, or a
    file's folder/stem (``runs/aed/best.safetensors`` → ``aed/best``)."""
    text = str(spec)
    if text.startswith(BUNDLED_PREFIX):
        return text.removeprefix(BUNDLED_PREFIX)
    path = Path(text)
    return f"{path.parent.name}/{path.stem}"


def export_generator(weights: Path, out: Path, half: bool = True) -> dict[str, Any]:
    """Copy a trained generator to ``out`` (optionally float16) with the reconstruction
    Chamfer distance of the stored copy on the full test split it was trained against."""
    generator, meta = load_generator(weights)
    save_model(generator, out, meta, half=half)
    copy, _ = load_generator(out)
    config = meta.get("config", {})
    test = load_dataset(
        config.get("data", "procedural"),
        "test",
        format=config.get("format"),
        num_points=int(meta["num_points"]),
    )
    meta = {
        **meta,
        "test_chamfer_float32": meta.get("test_chamfer"),
        "test_chamfer": reconstruction_distance(copy, test),
        "test_chamfer_per_class": reconstruction_by_class(copy, test),
        "test_objects": len(test),
        "stored_dtype": "float16" if half else "float32",
    }
    save_model(copy, out, meta, half=half)
    return meta


def load_generator(path: str | Path, device: str = "cpu") -> tuple[Generator, dict[str, Any]]:
    """A trained generator (eval mode) and its metadata, from a ``.safetensors`` file with
    its ``.json`` beside it."""
    state = read_state_dict(path)  # a missing or unreadable file is named first
    meta = read_metadata(path)
    if not meta or meta.get("kind") not in KINDS or "num_points" not in meta:
        raise CheckpointError(
            f"{path}: no generator metadata (kind, num_points) in {Path(path).with_suffix('.json')}"
        )
    generator = Generator(meta["kind"], int(meta["num_points"]), int(meta.get("latent", 128)))
    load_state(generator, state, str(path), f"a {meta['kind']} generator")
    return generator.to(device).eval(), meta
