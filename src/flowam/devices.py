"""Checking a ``--device`` before any work: one line naming what is missing, never a
traceback from deep inside torch."""

from __future__ import annotations

import torch

from flowam.errors import FlowamError


def check_device(name: str | torch.device) -> torch.device:
    """The torch device ``name`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``), if this
    machine has it; :class:`FlowamError` naming the device and the reason otherwise."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise FlowamError(
            f"--device {name!r}: not a device (cpu, cuda, cuda:1, mps, ...)"
        ) from None
    if device.type == "cuda":
        if torch.version.cuda is None and torch.version.hip is None:
            raise FlowamError(
                f"--device {name}: this torch ({torch.__version__}) was built without CUDA; "
                "use --device cpu or install a CUDA build of torch"
            )
        count = torch.cuda.device_count()
        if count == 0:
            raise FlowamError(f"--device {name}: no CUDA GPU is visible on this machine")
        if device.index is not None and device.index >= count:
            raise FlowamError(
                f"--device {name}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise FlowamError(f"--device {name}: Apple's MPS is not available on this machine")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise FlowamError(f"--device {name}: flowam runs on cpu, cuda or mps")
    return device
