"""How faithful and how recognisable explanations are.

- :mod:`~flowam.metrics.chamfer`: Chamfer distance (Eq. 7 and both ways), pair by pair,
  to real objects, all against all.
- :mod:`~flowam.metrics.frechet`: the Fréchet distance and FID on classifier features.
- :mod:`~flowam.metrics.emd`: earth mover's distance, exact and Sinkhorn.
- :mod:`~flowam.metrics.recognition`: 1-NN recognisability, m-IS, diversity.
- :mod:`~flowam.metrics.generation`: 1-NNA, coverage and MMD against real objects.
- :mod:`~flowam.metrics.faithfulness`: the faithfulness gap (trained minus damaged 1-NN).
- :mod:`~flowam.metrics.scores`: every score of a set of explanations (:class:`Evaluator`).

Functions take ``(B, N, 3)`` arrays or tensors.
"""

from flowam.metrics.chamfer import (
    chamfer_distance,
    chamfer_to_real,
    pairwise_chamfer,
    reference_indices,
)
from flowam.metrics.emd import earth_movers_distance
from flowam.metrics.frechet import feature_layers, frechet_distance
from flowam.metrics.generation import (
    SetScores,
    compare_sets,
    coverage_and_mmd,
    one_nn_accuracy,
    set_scores,
)
from flowam.metrics.recognition import (
    Recognition,
    ReferenceSet,
    diversity,
    inception_score,
)
from flowam.metrics.scores import Evaluator, Scores, legal, score

__all__ = [
    "Evaluator",
    "Recognition",
    "ReferenceSet",
    "Scores",
    "SetScores",
    "chamfer_distance",
    "chamfer_to_real",
    "compare_sets",
    "coverage_and_mmd",
    "diversity",
    "earth_movers_distance",
    "feature_layers",
    "frechet_distance",
    "inception_score",
    "legal",
    "one_nn_accuracy",
    "pairwise_chamfer",
    "reference_indices",
    "score",
    "set_scores",
]
