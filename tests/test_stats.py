import numpy as np
import torch

from flowam.data import PointCloudDataset
from flowam.models import get_model
from flowam.stats import class_means, quantile_key, quantiles, record


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
