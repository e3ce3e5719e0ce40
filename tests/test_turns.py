"""Scores that allow a turn about the up axis, for models that cannot prefer a facing."""

import json
import shutil

import numpy as np
import pytest
import torch
import trimesh

from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.metrics import Evaluator
from flowam.metrics.chamfer import chamfer_distance, pairwise_chamfer, turned_chamfer
from flowam.metrics.generation import set_scores
from flowam.models import get_model
from flowam.ops import turned, yaw_matrix
from flowam.outputs import facing
from flowam.subject import TURNS, Subject
from test_conventions import chair_y_up


def turn(points, degrees):
    """Points turned about y by ``degrees`` (row vectors, as flowam turns them)."""
    rot = yaw_matrix(torch.tensor(np.deg2rad(degrees), dtype=torch.float64)).numpy()
    return (np.asarray(points, dtype=np.float64) @ rot).astype(np.float32)


def shapes(n=256):
    """Four chairs (back towards +z) and four tables (a top on a pedestal) of varied
    proportions, centred: two classes told apart by shape, one of them facing a way."""
    rng = np.random.default_rng(0)
    chairs, tables = [], []
    for i in range(4):
        s = rng.uniform(0.8, 1.2, size=3)
        chair = chair_y_up()
        chair.apply_scale(s)
        table = trimesh.util.concatenate(
            [
                trimesh.creation.box(extents=(1.2 * s[0], 0.08, 0.8 * s[2])),
                trimesh.creation.box(extents=(0.12, 0.7, 0.12), transform=_down(0.39)),
            ]
        )
        for mesh, out in ((chair, chairs), (table, tables)):
            p = trimesh.sample.sample_surface(mesh, n, seed=i)[0]
            out.append(p - p.mean(0))
    points = np.stack(chairs + tables).astype(np.float32)
    return PointCloudDataset(points, np.repeat([0, 1], 4), ["chair", "table"])


def _down(y):
    m = np.eye(4)
    m[1, 3] = -y
    return m


def test_turned_chamfer_is_the_least_over_turns_against_a_naive_loop():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(3, 40, 3, generator=gen), torch.rand(4, 50, 3, generator=gen)
    d, j = turned_chamfer(x, y, 6)
    copies = turned(x, 6)  # (6, 3, 40, 3)
    for a in range(3):
        for r in range(4):
            each = [
                float(chamfer_distance(copies[k, a][None], y[r][None], False)) for k in range(6)
            ]
            assert d[a, r].item() == pytest.approx(min(each), rel=1e-5)
            assert int(j[a, r]) == int(np.argmin(each))
    assert torch.equal(pairwise_chamfer(x, y, turns=6), d)
    assert torch.allclose(pairwise_chamfer(x, y, turns=1), pairwise_chamfer(x, y), atol=0)
    assert torch.allclose(copies[0], x)
    with pytest.raises(ValueError, match="turns=0"):
        turned_chamfer(x, y, 0)


@pytest.mark.parametrize("degrees", [90, 180])
def test_real_objects_turned_are_recognised_and_faced_again(degrees):
    real = shapes()
    model = get_model("pointnet", 2).eval()
    moved = turn(real.points, degrees)  # every real object, turned, scored as explanations
    plain = Evaluator(model, real, k_recognition=4, layers={}, turns=1)
    free = Evaluator(model, real, k_recognition=4, layers={}, turns=8)
    drawn, allowed = plain.score(moved, real.labels), free.score(moved, real.labels)
    # allowing turns, each is its own real object again: recognised, at distance 0
    assert allowed.recognised.all()
    near = free.references.recognise(moved, real.labels)
    assert np.allclose(near.distance, 0, atol=1e-3)  # float32 rounding under the root
    assert np.allclose(allowed.facing, 360 - degrees)  # the turn that undoes it
    assert np.allclose(facing(moved, allowed.facing), real.points, atol=1e-5)
    assert allowed.sets["mmd"] == pytest.approx(0, abs=1e-3) and allowed.sets["coverage"] == 1
    # as drawn, the chairs face the other way: farther from every real chair
    assert (plain.references.recognise(moved, real.labels).distance > 0.01).all()
    assert drawn.sets["mmd"] > 0.01 and (drawn.facing == 0).all()
    assert (allowed.chamfer < drawn.chamfer).all()
    assert allowed.sets["one_nna"] <= drawn.sets["one_nna"]


def test_set_scores_allow_turns_within_each_set_too():
    real = shapes()
    chairs = real.points[:4]
    spun = np.stack([turn(c, d) for c, d in zip(chairs, [0, 90, 180, 270], strict=True)])
    as_is = set_scores(spun, np.zeros(4, int), real, turns=1)
    free = set_scores(spun, np.zeros(4, int), real, turns=4)
    assert free.mmd == pytest.approx(0, abs=1e-3) and free.coverage == 1
    assert as_is.mmd > 0.01


def test_turns_come_from_the_models_metadata_or_the_option(tiny_model, tiny_data, tmp_path):
    meta = json.loads(tiny_model.with_suffix(".json").read_text())
    spun = tmp_path / "spun.safetensors"
    shutil.copy(tiny_model, spun)
    augmentations = {**meta["augmentations"], "yaw_degrees": 180.0, "turns_about_up": True}
    spun.with_suffix(".json").write_text(json.dumps({**meta, "augmentations": augmentations}))
    kw = {"data": str(tiny_data), "judges": "none"}
    assert Subject(model=str(tiny_model), **kw).load(0)[0].turns == 1
    explainer, info = Subject(model=str(spun), **kw).load(0)
    assert info.turns_about_up and explainer.turns == TURNS
    assert explainer.evaluator(0).references.turns == TURNS
    assert Subject(model=str(spun), turns=1, **kw).load(0)[0].turns == 1
    with pytest.raises(FlowamError, match="--turns 0"):
        Subject(model=str(spun), turns=0, **kw).load(0)
