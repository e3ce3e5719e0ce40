"""The faithfulness gap: how much of an explanation comes from the model.

The share of a method's explanations recognised as their class (1-NN,
:mod:`flowam.metrics.recognition`) for the trained model minus the share for a damaged
copy (:mod:`flowam.damage`). A method whose explanations stay recognisable when the model
is at chance draws its shapes from somewhere else (the start, the real objects'
statistics, a generator).
"""

from __future__ import annotations

from collections.abc import Mapping

FLAG_RATE = 0.25
"""A method whose explanations of the fully randomized model are recognised at this rate
or more is flagged (⚠): their shape does not come from the model."""


def faithfulness_gap(trained: float, damaged: float | Mapping[str, float]) -> float:
    """The faithfulness gap: recognition (1-NN rate) for the trained model minus that for
    the damaged one. ``damaged`` is one rate (the fully randomized model: the gap of the
    demo, ``compare`` and ``sanity``) or rates by damage (``{"randomized": ...,
    "dropout": ...}``: the strict gap of ``experiment faithful``, against the damage that
    leaves most recognised)."""
    worst = max(damaged.values()) if isinstance(damaged, Mapping) else damaged
    return trained - worst


def flagged(randomized: float | None) -> bool:
    """Whether explanations recognised at ``randomized`` on the randomized model are
    flagged (:data:`FLAG_RATE`); None (not measured) is not."""
    return randomized is not None and randomized >= FLAG_RATE
