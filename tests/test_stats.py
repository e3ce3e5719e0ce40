import numpy as np
import pytest
import torch

from flowam.data import PointCloudDataset
from flowam.errors import FlowamError
from flowam.models import get_model
from flowam.stats import (
    barycenter,
    class_means,
    fibonacci_sphere,
    medoid,
    quantile_key,
    quantiles,
    record,
    start_clouds,
)


def dataset(n_per_class=3, n_points=32, seed=0):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-1, 1, size=(2 * n_per_class, n_points, 3)).astype(np.float32)
    labels = np.repeat([0, 1], n_per_class)
    return PointCloudDataset(pts, labels, ["a", "b"], description={"format": "test", "seed": seed})


def test_class_means_equal_a_naive_average(fresh_cache):
    torch.manual_seed(0)
    model = get_model("pointnet", 2).eval()
    data = dataset()
    stats = class_means(model, data, ["fc2", "feat.stn.fc1"])
    acts = record(model, data.points, ["fc2"])["fc2"]
    assert torch.allclose(stats.means["fc2"][1], acts[3:].mean(0), atol=1e-5)
    assert stats.counts.tolist() == [3, 3]
    assert stats.target("fc2", torch.tensor([1, 0, 1])).shape == (3, 256)
    only = class_means(model, data, ["fc2"], classes=[1])  # only class 1's objects are run
    assert torch.allclose(only.means["fc2"][1], stats.means["fc2"][1], atol=1e-6)
    assert only.counts.tolist() == [0, 3] and not only.means["fc2"][0].any()


def test_class_means_are_cached_and_follow_the_weights(fresh_cache):
    torch.manual_seed(0)
    model = get_model("pointnet", 2).eval()
    data = dataset()
    first = class_means(model, data, ["fc2"]).means["fc2"]
    files = list((fresh_cache / "stats").glob("means-*.npz"))
    assert len(files) == 1
    files[0].write_bytes(b"garbage")  # a corrupt entry is recomputed
    assert torch.allclose(class_means(model, data, ["fc2"]).means["fc2"], first)
    with torch.no_grad():
        model.fc2.bias += 1.0  # new weights: a new entry
    second = class_means(model, data, ["fc2"]).means["fc2"]
    assert not torch.allclose(second, first)
    assert len(list((fresh_cache / "stats").glob("means-*.npz"))) == 2


def test_barycenter_finds_correspondence_where_index_averaging_collapses():
    rng = np.random.default_rng(0)
    shape = rng.uniform(-1, 1, size=(64, 3))
    clouds = np.stack([shape[rng.permutation(64)] + rng.normal(0, 0.01, (64, 3)) for _ in range(6)])
    mean = barycenter(clouds)
    by_index = clouds.mean(0)

    def cd(a, b):
        d = np.linalg.norm(a[:, None] - b[None], axis=-1)
        return d.min(1).mean() + d.min(0).mean()

    assert cd(mean, shape) < 0.05
    assert cd(by_index, shape) > 0.4  # the naive average is a blob at the centroid


def test_medoid_sphere_and_gaussian_inits(fresh_cache):
    data = dataset()
    clouds = data.points[:3].copy()
    clouds[1] = clouds[0] + 0.001
    clouds[2] = clouds[0] * 3
    assert medoid(clouds) in (0, 1)
    sphere = fibonacci_sphere(200)
    assert np.allclose(np.linalg.norm(sphere, axis=1), 0.5, atol=1e-6)
    g1 = start_clouds("gaussian", 32, data, [0, 1, 0], seeds=[4, 5, 4])
    g2 = start_clouds("gaussian", 32, data, [0, 1, 0], seeds=[4, 5, 4])
    assert np.array_equal(g1, g2) and np.array_equal(g1[0], g1[2]) and not np.allclose(g1[0], g1[1])
    mean = start_clouds("mean", 32, data, [1])
    assert mean.shape == (1, 32, 3)
    med = start_clouds("medoid", 32, data, [0])
    assert any(np.array_equal(med[0], p) for p in data.points[:3])


def test_blobs_init_is_eight_separate_small_spheres_shared_by_every_class():
    data = dataset()
    clouds = start_clouds("blobs", 203, data, [0, 1])
    assert clouds.shape == (2, 203, 3) and np.array_equal(clouds[0], clouds[1])
    centres = np.sign(clouds[0]) * 0.3  # every point on the sphere round its corner
    assert np.allclose(np.linalg.norm(clouds[0] - centres, axis=1), 0.15, atol=1e-5)
    corners, counts = np.unique(np.sign(clouds[0]), axis=0, return_counts=True)
    assert len(corners) == 8 and set(counts) == {25, 26}  # 203 = 3 × 26 + 5 × 25


def test_bad_init_requests():
    data = dataset()
    with pytest.raises(FlowamError, match="unknown start 'cube'"):
        start_clouds("cube", 32, data, [0])
    with pytest.raises(FlowamError, match="the data have 32 points per cloud, not 64"):
        start_clouds("mean", 64, data, [0])


def test_class_means_of_quantiles_average_each_objects_sorted_activations(fresh_cache):
    torch.manual_seed(0)
    model = get_model("pointnet", 2).eval()
    data = dataset()
    key = quantile_key("feat.bn2", 4)
    stats = class_means(model, data, [key, "fc2"])
    from flowam.hooks import LayerRecorder

    with torch.no_grad(), LayerRecorder(model, ["feat.bn2"]) as rec:
        model(torch.from_numpy(data.points[3:]))
    naive = quantiles(rec["feat.bn2"], 4).flatten(1).mean(0)
    assert stats.means[key].shape == (2, 128 * 4)
    assert torch.allclose(stats.means[key][1], naive, atol=1e-5)
