"""Reading and writing model weights safely.

A model file is untrusted input: ``.safetensors`` files are read with safetensors, any
other file with ``torch.load(..., weights_only=True)``, which refuses arbitrary pickled
objects. Accepted layouts: a plain state dict; a dict holding ``model_state_dict`` (the
checkpoints of ``Pointnet_Pointnet2_pytorch``), ``state_dict`` or ``model``; keys with a
``module.`` prefix (``nn.DataParallel``). flowam's own files are ``NAME.safetensors`` with
metadata in ``NAME.json`` beside it (architecture, classes, number of points, accuracy,
the command that produced it).
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import Tensor, nn

from flowam import cache
from flowam.errors import FlowamError
from flowam.models.registry import guess_architecture
from flowam.readback import read_json

WRAPPER_KEYS = ("model_state_dict", "state_dict", "model")


class CheckpointError(FlowamError):
    """A weights file that cannot be read or does not fit the model."""


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a weights file (see the module docstring for accepted layouts); a
    file whose floating-point weights hold NaN or infinity is refused."""
    path = Path(path).expanduser()
    state = _read(path)
    for name, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            what = "NaN" if tensor.isnan().any() else "infinity"
            raise CheckpointError(f"{path}: weights hold {what} in {name}")
    return state


def _read(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.suffix == ".safetensors":
        try:
            return safetensors.torch.load_file(str(path))
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if found is None:
            raise CheckpointError(
                f"{path}: not a PyTorch checkpoint (cannot be unpickled)"
            ) from None
        raise CheckpointError(
            f"{path}: refused to load: the file holds a {found.group(1)} object, and only "
            "tensors and plain containers are loaded from untrusted files (weights_only)"
        ) from None
    except Exception as e:  # zip errors, truncated files, ...
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {e})"
        ) from None
    return _unwrap(obj, path)


def _unwrap(obj: Any, path: Path) -> dict[str, Tensor]:
    for key in WRAPPER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(
            f"{path}: holds no state dict (expected tensors by name, or a dict with one of "
            f"{', '.join(WRAPPER_KEYS)})"
        )
    if all(k.startswith("module.") for k in obj):
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return obj


def _listing(keys: list[str], limit: int = 4) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", … ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_state(model: nn.Module, state: dict[str, Tensor], source: str, describe: str) -> None:
    """Load ``state`` into ``model`` strictly, or raise one readable line saying why not.

    The message lists missing keys, unexpected keys and shape conflicts, and names the
    architecture and class count the checkpoint looks like when they can be told.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    conflicts = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if not (missing or unexpected or conflicts):
        model.load_state_dict(state)
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys ({_listing(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys ({_listing(unexpected)})")
    if conflicts:
        parts.append(
            f"{len(conflicts)} shape conflicts, checkpoint vs model ({_listing(conflicts)})"
        )
    guess = guess_architecture(state)
    hint = (
        f"; it looks like {guess[0]} with {guess[1]} classes (use --arch {guess[0]} "
        f"--num-classes {guess[1]})"
        if guess
        else ""
    )
    raise CheckpointError(f"{source}: does not fit {describe}: {'; '.join(parts)}{hint}")


def save_model(
    model: nn.Module, path: str | Path, metadata: dict[str, Any], half: bool = False
) -> Path:
    """Write ``path`` (``.safetensors``) and its metadata ``path.with_suffix('.json')``.

    With ``half``, floating-point tensors are stored as float16 (half the size); loading
    casts them back to the model's dtype. Integer buffers are stored unchanged.
    """
    path = Path(path)
    # clone: modules registered under two names (DGCNN's bn1 is conv1.1) share tensors,
    # which safetensors refuses to write
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    with cache.atomic_path(path) as tmp:
        safetensors.torch.save_file(state, str(tmp), metadata={"format": "pt"})
    cache.write_json(path.with_suffix(".json"), metadata)
    return path


METADATA_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "architecture": ("a name", lambda v: isinstance(v, str)),
    "kind": ("a name", lambda v: isinstance(v, str)),
    "num_classes": ("an integer from 2 to 100,000", lambda v: _integer(v, 2, 100_000)),
    "num_points": ("an integer from 1 to 1,000,000", lambda v: _integer(v, 1, 1_000_000)),
    "latent": ("an integer from 1 to 65,536", lambda v: _integer(v, 1, 65_536)),
    "classes": (
        "a list of names",
        lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
    ),
    "options": ("a table of numbers, names and switches", lambda v: _options(v)),
}
"""The metadata fields flowam reads to build a model, with what each must be."""


def _integer(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _options(value: Any) -> bool:
    simple = (int, float, str, bool)
    return isinstance(value, dict) and all(isinstance(v, simple) for v in value.values())


def read_metadata(path: str | Path) -> dict[str, Any] | None:
    """The JSON metadata beside a weights file, or None where there is none; the fields
    that build a model (:data:`METADATA_TYPES`) are checked."""
    meta = Path(path).expanduser().with_suffix(".json")
    if not meta.is_file():
        return None
    try:
        data = read_json(meta)
    except FlowamError as e:
        raise CheckpointError(str(e)) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{meta}: metadata must be a JSON object")
    for key, (what, fits) in METADATA_TYPES.items():
        if key in data and not fits(data[key]):
            shown = json.dumps(data[key])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise CheckpointError(f"{meta}: {key} must be {what}, not {shown}")
    return data
