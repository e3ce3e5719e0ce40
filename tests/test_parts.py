"""Assemblies of parts (flowam.param.parts): area sampling, attachment, bending, and the
``assembly`` method option through the engine."""

import math

import numpy as np
import pytest
import torch
from tests.conftest import SMALL_CLASSES as CLASSES

from flowam.engine import Run, optimize
from flowam.errors import FlowamError
from flowam.methods import MethodConfig, load_method, parameterization
from flowam.objectives import ClassLogit
from flowam.param import start_clouds
from flowam.param.deform import CONTROLS, cube_surface, deform
from flowam.param.parts import (
    MAX_HALF,
    PARAMS,
    SLOTS,
    Parts,
    boxes,
    face_areas,
    sample_surface,
    start_cloud,
)
from flowam.robustness import Robustness


def generators(b, seed=0):
    return [torch.Generator().manual_seed(seed + i) for i in range(b)]


def test_points_lie_on_the_box_surfaces_shared_out_by_area():
    centres = torch.tensor([[[0.0, 0, 0], [2.0, 0, 0]]])
    half = torch.tensor([[[0.3, 0.2, 0.1], [0.1, 0.1, 0.1]]])
    n = 4000
    pts = sample_surface(centres, half, n, generators(1))
    assert pts.shape == (1, n, 3)
    part = (pts[0, :, 0] > 1.0).long()  # the boxes are far apart along x
    local = (pts[0] - centres[0, part]) / half[0, part]
    # on the surface: inside the box, and on one face (|coordinate| = 1 on some axis)
    assert local.abs().max() <= 1 + 1e-4
    assert torch.allclose(local.abs().max(1).values, torch.ones(n), atol=1e-4)
    areas = face_areas(half)[0].sum(1)
    assert abs(part.float().mean().item() - (areas[1] / areas.sum()).item()) < 2 / n
    # each face of the first box gets its share of that box's points
    first = local[part == 0]
    axis = first.abs().argmax(1)
    share = torch.bincount(axis, minlength=3).float() / len(first)
    hx, hy, hz = half[0, 0]
    want = torch.tensor([hy * hz, hx * hz, hx * hy])
    assert torch.allclose(share, want / want.sum(), atol=0.02)


def test_every_part_touches_its_parent_whatever_its_parameters():
    param = torch.randn(4, len(SLOTS), PARAMS, generator=torch.Generator().manual_seed(1)) * 3
    centres, half = boxes(param, 0.02)
    assert (half >= 0.02).all() and (half <= MAX_HALF).all()

    def inside(p, k):  # whether point p (B, 3) lies in box k of each cloud
        return ((p - centres[:, k]).abs() <= half[:, k] + 1e-5).all(1)

    for k, (parent, _, _) in enumerate(SLOTS):
        if parent < 0:
            assert torch.equal(centres[:, k], param[:, k, :3])
            continue
        # the anchor, rebuilt from the module docstring's formula
        local = half[:, parent] * torch.tanh(param[:, k, :3])
        anchor = centres[:, parent] + local
        assert inside(anchor, parent).all() and inside(anchor, k).all()
        assert parent < k  # parents come first, so one pass builds every centre


def test_a_chart_draws_anew_each_call_from_its_own_seeds_and_keeps_points_legal():
    asm = Parts(bound=0.3)
    start = torch.zeros(3, 256, 3)
    first, again = asm.chart(start, [5, 6, 7]), asm.chart(start, [5, 6, 7])
    a, b = first.cloud(), first.cloud()
    assert not torch.equal(a, b)  # re-sampled
    assert torch.equal(a, again.cloud())  # the same seeds draw the same points
    assert a.abs().max() <= 0.3
    alone = asm.chart(start[:1], [6]).cloud()
    assert torch.allclose(alone[0], a[1])  # a cloud's draw does not depend on its batch


def test_normalized_assemblies_lie_in_the_unit_sphere():
    param = torch.randn(2, len(SLOTS), PARAMS, generator=torch.Generator().manual_seed(2))
    normalized = Parts(normalize=True).chart(torch.zeros(2, 200, 3), [0, 1])
    normalized.param.data.copy_(param * 2)
    y = normalized.cloud().detach()
    assert torch.allclose(y.mean(1), torch.zeros(2, 3), atol=1e-5)
    assert torch.allclose(y.norm(dim=-1).amax(1), torch.ones(2), atol=1e-5)


def winding_number(point, verts, faces):
    """The generalized winding number of a closed triangle mesh about ``point`` (1 inside,
    0 outside): the triangles' solid angles (Van Oosterom & Strackee, 1983) over 4π."""
    a, b, c = (verts[faces[:, k]] - point for k in range(3))
    la, lb, lc = (x.norm(dim=1) for x in (a, b, c))
    det = (a * torch.linalg.cross(b, c)).sum(1)
    div = la * lb * lc + (a * b).sum(1) * lc + (a * c).sum(1) * lb + (b * c).sum(1) * la
    return float(2 * torch.atan2(det, div).sum() / (4 * math.pi))


def test_bent_parts_start_as_boxes_and_stay_attached_however_they_bend():
    gen = torch.Generator().manual_seed(3)
    asm = Parts(bend=True)
    chart = asm.chart(torch.zeros(2, 64, 3), [0, 1])
    base = chart.param[..., :PARAMS]
    straight = boxes(base, 0.02, torch.zeros(2, len(SLOTS), CONTROLS, 3))
    assert all(torch.allclose(x, y) for x, y in zip(straight, boxes(base, 0.02), strict=True))
    param = torch.randn(2, len(SLOTS), PARAMS, generator=gen)
    offsets = torch.randn(2, len(SLOTS), CONTROLS, 3, generator=gen) * 0.15
    centres, half = boxes(param, 0.02, offsets)
    cube, faces = cube_surface()
    for b in range(2):
        solids = [
            centres[b, k] + half[b, k] * deform(cube, offsets[b, k]) for k in range(len(SLOTS))
        ]
        for k, (parent, _, _) in enumerate(SLOTS[1:], start=1):
            # the anchor, the parent's deformed point, lies inside both deformed surfaces
            local = half[b, parent] * deform(torch.tanh(param[b, k, :3]), offsets[b, parent])
            anchor = centres[b, parent] + local
            assert winding_number(anchor, solids[parent], faces) == pytest.approx(1, abs=1e-3)
            assert winding_number(anchor, solids[k], faces) == pytest.approx(1, abs=1e-3)
    # the drawn points lie on those surfaces: every offset column reaches the cloud
    (chart.cloud() ** 2).sum().backward()
    assert (chart.param.grad[..., PARAMS:].abs().sum((0, 2)) > 0).all()
    config = load_method("parts-boxes").replace({"param.bend": True})
    assert parameterization(config).bend


def test_gradients_reach_every_part():
    chart = Parts().chart(torch.zeros(2, 512, 3), [0, 1])
    (chart.cloud() ** 2).sum().backward()
    per_part = chart.param.grad.abs().sum((0, 2))
    assert (per_part > 0).all()


def test_the_start_is_class_agnostic_and_fills_its_cubes():
    clouds = start_clouds("parts", 300, None, [0, 1, 2])
    assert clouds.shape == (3, 300, 3) and np.array_equal(clouds[0], clouds[2])
    assert np.array_equal(clouds[0], start_cloud(300))
    assert np.allclose(np.linalg.norm(clouds[0], axis=1).max(), 1.0)  # in the unit sphere
    small = start_cloud(300, normalize=False)  # the root cube of half-size 0.25 and its cubes
    assert 0.45 < np.linalg.norm(small, axis=1).max() < 0.55


def test_assembly_options_fail_in_one_line():
    parts = {"kind": "parts"}
    with pytest.raises(FlowamError, match=r"starts from its cubes \(start 'parts'\)"):
        MethodConfig().replace(param={**parts, "start": "sphere"})
    with pytest.raises(FlowamError, match="transforms.project cannot act on a parts"):
        MethodConfig().replace(param=parts, transforms={"project": True})
    with pytest.raises(FlowamError, match="of kind parts has no option 'smoothing'"):
        MethodConfig().replace(param={**parts, "smoothing": 2.0})
    with pytest.raises(FlowamError, match="param.min_half=1.5"):
        MethodConfig().replace(param={**parts, "min_half": 1.5})
    with pytest.raises(FlowamError, match="parts=40"):
        Parts(parts=40)
    with pytest.raises(FlowamError, match="param.bend_after=0.5 needs param.bend=true"):
        MethodConfig().replace(param={**parts, "bend_after": 0.5})
    with pytest.raises(FlowamError, match=r"param.bend_after=1.0 must be a share .* \[0, 1\)"):
        MethodConfig().replace(param={**parts, "bend": True, "bend_after": 1.0})
    with pytest.raises(FlowamError, match="of kind points has no option 'bend'"):
        MethodConfig().replace({"param.bend": True})
    with pytest.raises(FlowamError, match="of kind points has no option 'subdivisions'"):
        MethodConfig().replace({"param.subdivisions": 2})
    for removed in ("part_turn", "part_mirror", "part_round", "norm_stats"):  # measured worse
        with pytest.raises(FlowamError, match=f"unknown method option '{removed}'"):
            MethodConfig().replace(**{removed: True})


@pytest.mark.parametrize(("share", "bent"), [(0.0, True), (0.25, True), (0.75, False)])
def test_coarse_to_fine_parts_stay_boxes_for_a_share_of_the_steps(small_model, share, bent):
    charts = []

    class Spied(Parts):
        def chart(self, start, seeds=None):
            charts.append(super().chart(start, seeds))
            return charts[-1]

    param = Spied(bend=True, bend_after=share, normalize=True)
    start = torch.from_numpy(start_clouds("parts", 48, None, [0]))
    run = Run(steps=2, lr=0.05, optimizer="adam")  # share 0.25: step 0 held, step 1 not
    optimize(small_model, ClassLogit(), start, [0], CLASSES, run, param=param, progress=False)
    moved = charts[0].param.detach()[0] != param.start
    assert moved[:, :PARAMS].any()  # the boxes move from the first step
    assert moved[:, PARAMS:].any() == bent


def test_an_assembly_run_raises_the_logit_with_legal_points(small_model):
    config = MethodConfig().replace(param={"kind": "parts"}, objective={"bound": 0.8})
    param = parameterization(config)
    start = torch.from_numpy(start_clouds("parts", 48, None, [0, 1, 2]))
    run = Run(steps=40, lr=0.05)
    kw = dict(augment=Robustness(1), param=param, seed=3, progress=False)
    result = optimize(small_model, ClassLogit(), start, [0, 1, 2], CLASSES, run, **kw)
    logit = result.history["logit"]
    assert (logit[-1] > logit[0]).all()
    assert np.abs(result.points).max() <= 0.8
    assert np.array_equal(result.start, start.numpy())
    assert math.isfinite(float(logit[-1].mean()))
    # a batched run equals runs of single clouds (over a few steps: later, a rounding
    # difference can send a point to another face, and the runs part ways)
    run = Run(steps=8, lr=0.05)
    together = optimize(small_model, ClassLogit(), start, [0, 1, 2], CLASSES, run, **kw)
    alone = optimize(small_model, ClassLogit(), start[1:2], [1], CLASSES, run, **kw)
    assert np.allclose(alone.points[0], together.points[1], atol=1e-4)


@pytest.mark.parametrize(
    "preset, bent, after",
    [("parts", True, 0.5), ("parts-bent", True, 0.0), ("parts-boxes", False, 0.0)],
)
def test_the_faithful_presets_are_assemblies_of_parts(preset, bent, after):
    config = load_method(preset)
    assert config.param.kind == "parts" and config.start == "parts"
    assert not config.transforms.project and config.param.normalize
    param = parameterization(config)
    assert isinstance(param, Parts) and param.normalize
    assert param.bend == bent
    assert config.param.bend_after == after


@pytest.mark.parametrize("bend", [False, True])
def test_a_union_draws_only_the_surface_outside_the_other_parts(bend):
    """Points of a part inside another part's box are dropped; what is left covers the
    union's surface, in random order, and gradients still reach every part."""
    from flowam.param.parts import outer_surface

    b, n = 2, 256
    torch.manual_seed(0)
    param = Parts(bend=bend).start[None].repeat(b, 1, 1)
    param[:, :, :PARAMS] += 0.3 * torch.randn(b, len(SLOTS), PARAMS)  # parts that overlap
    offsets = param[..., PARAMS:].reshape(b, len(SLOTS), CONTROLS, 3) if bend else None
    centres, half = boxes(param[..., :PARAMS], 0.02, offsets)
    points, part = sample_surface(centres, half, 4 * n, generators(b), elements=True)
    kept = outer_surface(points, part, centres, half, n, generators(b))
    assert kept.shape == (b, n, 3)
    for c in range(b):
        match = (kept[c][:, None] == points[c][None]).all(-1)  # every kept point was drawn ...
        assert match.any(1).all()
        owner = part[c][match.float().argmax(1)]
        local = (kept[c][:, None] - centres[c][None]) / half[c][None]
        inside = (local.abs() < 1 - 1e-4).all(-1)
        inside[torch.arange(n), owner] = False
        assert not inside.any()  # ... and lies in no other part's box
    dropped = (points[0][:, None] - centres[0][None]).div(half[0][None]).abs().lt(0.99).all(-1)
    assert dropped.sum(1).gt(0).any()  # the parts did overlap: there was something to drop
    chart = Parts(bend=bend, union=True, normalize=True).chart(torch.zeros(b, n, 3), [0, 1])
    (chart.cloud() ** 2).sum().backward()
    assert (chart.param.grad[..., :PARAMS].abs().sum((0, 2)) > 0).all()
    assert load_method("parts").replace({"param.union": True}).param.union


def test_start_noise_sets_each_cloud_apart_from_its_own_seed():
    base = Parts().chart(torch.zeros(2, 64, 3), [3, 4]).param
    noisy = Parts(start_noise=0.5).chart(torch.zeros(2, 64, 3), [3, 4]).param
    again = Parts(start_noise=0.5).chart(torch.zeros(1, 64, 3), [4]).param
    assert torch.equal(base[0], base[1]) and not torch.equal(noisy[0], noisy[1])
    assert torch.equal(again[0], noisy[1])  # a cloud's start is its own seed's
    assert 0.3 < (noisy - base).std() < 0.7
    with pytest.raises(FlowamError, match="param.start_noise"):
        Parts(start_noise=-1.0)
