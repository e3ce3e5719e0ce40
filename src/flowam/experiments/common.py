"""What every ``flowam experiment`` shares: the subject, the scale, and its outputs.

Each experiment runs at one of two scales. ``quick`` (the default) runs on this kind of
2-core CPU in minutes: the first :data:`QUICK_COUNT` of :data:`flowam.subject.DEFAULT_CLASSES`
(eight classes spanning the families, where the model has them), :data:`QUICK_STEPS` steps
per method, one seed for damaged models. ``full``
follows the paper: every class, each method's own step count (300 for the presets), three
seeds. ``--classes`` and ``--steps`` override either.

Outputs, in the experiment's folder: ``<name>.md`` (the tables, with the command and the
time), ``<name>.csv`` (every number in long form), pictures, and ``config.json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flowam.explain import Explainer
from flowam.methods import MethodConfig, load_method
from flowam.outputs import write_config
from flowam.subject import Subject, choose_classes

QUICK_COUNT = 8
"""Classes an experiment explains at ``--quick`` scale: the first 8 of DEFAULT_CLASSES."""
QUICK_STEPS = 100
SEEDS = {"quick": 1, "full": 3}


@dataclasses.dataclass
class Setting:
    """The subject and scale of one experiment run.

    Attributes:
        subject: the model and real objects.
        classes: class names, ``"all"``, or None for the scale's default.
        steps: steps per method, or None for the scale's default.
        scale: ``quick`` or ``full``.
        seed: run seed (explanations, reference objects, damage draws).
    """

    subject: Subject = dataclasses.field(default_factory=Subject)
    classes: Sequence[str] | str | None = None
    steps: int | None = None
    scale: str = "quick"
    seed: int = 0

    def load(self) -> tuple[Explainer, Any]:
        """The explainer and the model's info (named classes checked first)."""
        named = self.classes if isinstance(self.classes, (list, tuple)) else ()
        return self.subject.load(self.seed, named)

    def prepare(
        self, methods: Sequence[str], log: Callable[[str], None]
    ) -> tuple[Explainer, Any, list[str], list[str]]:
        """The explainer, the model's info, the classes to explain and the ``methods``
        that fit the model (:meth:`Explainer.fitting`); an unknown method fails first,
        before any work."""
        for m in methods:
            load_method(m)
        explainer, info = self.load()
        return explainer, info, self.names(explainer), explainer.fitting(methods, log)

    def names(self, explainer: Explainer) -> list[str]:
        """The classes to explain."""
        count = None if self.scale == "full" else QUICK_COUNT
        names = choose_classes(explainer.classes, self.classes, count)
        explainer.targets(names)  # unknown names fail here
        return names

    def overrides(self) -> dict[str, Any]:
        """Method overrides of the scale: the step count unless ``full`` keeps the preset's."""
        if self.steps is not None:
            return {"run.steps": self.steps}
        return {} if self.scale == "full" else {"run.steps": QUICK_STEPS}

    @property
    def step_count(self) -> int:
        """Steps per method where one number serves every method (Table IV, the time
        estimate): the scale's, or at ``full`` the presets' own (MethodConfig's default)."""
        return self.overrides().get("run.steps", MethodConfig().run.steps)

    @property
    def seeds(self) -> list[int]:
        """Seeds of damaged models (one for quick, three for full)."""
        return [self.seed + k for k in range(SEEDS[self.scale])]

    def to_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self.subject),
            "classes": self.classes,
            "steps": self.steps,
            "scale": self.scale,
            "seed": self.seed,
        }


def write_record(out: Path, name: str, setting: Setting, seconds: float, **extra: Any) -> None:
    """``config.json``: the setting, the experiment's own options and its time."""
    record = {"experiment": name, **setting.to_dict(), **extra, "seconds": round(seconds, 1)}
    write_config(out, f"experiment {name}", **record)
