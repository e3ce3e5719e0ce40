import numpy as np
import pytest
import torch

from flowam.analysis import (
    FlowAnalysis,
    activation_flow,
    choose_alignment,
    global_layers,
    hookable_layers,
    plot_flow,
)
from flowam.data import PointCloudDataset
from flowam.models import bundled_models, get_model


def test_global_layers_are_the_pooled_ones():
    torch.manual_seed(0)
    pointnet = get_model("pointnet", 4).eval()
    layers = hookable_layers(pointnet)
    found = global_layers(pointnet, layers, 64)
    assert "feat.stn.fc1" in found and "fc2" in found and "feat.fstn.fc2" in found
    assert not any("conv" in name for name in found)
    dgcnn = get_model("dgcnn", 4, k=8).eval()
    found = global_layers(dgcnn, hookable_layers(dgcnn), 64)
    assert found == ["linear1", "linear2", "linear3"]


def test_the_rule_weights_discriminative_layers_that_raw_am_misses():
    flow = FlowAnalysis(
        layers=["conv", "fc1", "fc2", "fc3", "out"],
        same=np.array([0.4, 0.95, 0.9, 0.95, 0.99]),
        different=np.array([0.39, 0.9, 0.3, 0.4, 0.4]),
        explanations={"vanilla": np.array([0.1, 0.5, 0.5, 0.94, 0.99])},
        candidates=["fc1", "fc2", "fc3"],
        output_layer="out",
    )
    # scores: fc1 0.05*0.45=0.0225, fc2 0.6*0.4=0.24, fc3 0.55*0.01=0.0055
    assert choose_alignment(flow) == {"fc2": 1.0}
    loose = choose_alignment(flow, keep=0.05)
    assert set(loose) == {"fc1", "fc2"} and loose["fc1"] == pytest.approx(0.0225 / 0.24, abs=1e-3)


def test_activation_flow_on_a_small_model(tmp_path):
    torch.manual_seed(0)
    model = get_model("pointnet", 2).eval()
    rng = np.random.default_rng(0)
    real = PointCloudDataset(
        rng.uniform(-1, 1, size=(6, 32, 3)).astype(np.float32), np.repeat([0, 1], 3), ["a", "b"]
    )
    fake = rng.uniform(-1, 1, size=(2, 32, 3)).astype(np.float32)
    flow = activation_flow(model, real, {"vanilla": (fake, np.array([0, 1]))}, per_class=3)
    assert flow.layers == hookable_layers(model)
    assert flow.output_layer == "fc3" and "fc3" not in flow.candidates
    assert flow.same.shape == flow.different.shape == flow.explanations["vanilla"].shape
    assert ((flow.same >= -1) & (flow.same <= 1)).all()
    path = plot_flow(flow, tmp_path / "flow.png", {"fc2": 1.0})
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize(("name", "points"), [("dgcnn", 128), ("pointnet2_ssg", 512)])
def test_flow_auto_runs_on_architectures_the_paper_never_tuned(name, points, fresh_cache):
    from flowam.explain import Explainer

    torch.manual_seed(0)
    model = get_model(name, 2, **({"k": 8} if name == "dgcnn" else {})).eval()
    rng = np.random.default_rng(0)
    real = PointCloudDataset(
        rng.uniform(-1, 1, size=(4, points, 3)).astype(np.float32),
        np.repeat([0, 1], 2),
        ["a", "b"],
        description={"format": name},
    )
    explainer = Explainer(model, real)
    config = explainer.resolve("flow-auto")
    candidates = set(global_layers(model, hookable_layers(model), points))
    assert set(config.objective.align) <= candidates
    result = explainer.explain(["b"], config, **{"run.steps": 2}, progress=False)
    assert result.finished and result.points.shape == (1, points, 3)


@pytest.mark.parametrize("arch", bundled_models())
def test_the_shipped_analysis_of_each_bundled_model_is_its_own(arch, fresh_cache, monkeypatch):
    """Each bundled model ships the flow.json of `flowam analyze --model bundled:<arch>`:
    its key must be the model's on the procedural test split (a retrained model with a
    stale analysis fails here), and flow-auto takes it without running raw AM."""
    from flowam.analysis import AutoAlignment, alignment_key, auto_alignment
    from flowam.data import load_dataset
    from flowam.explain import Explainer
    from flowam.models import bundled_path, load_classifier

    model, info = load_classifier(f"bundled:{arch}")
    real = load_dataset("procedural", "test", num_points=info.num_points, progress=False)
    explainer = Explainer(model, real)
    shipped = AutoAlignment.read(bundled_path(arch).with_name(f"{arch}_procedural.flow.json"))
    assert shipped is not None and shipped.key == alignment_key(explainer), (
        f"run `flowam analyze --model bundled:{arch} --out runs/a` and copy runs/a/flow.json "
        f"to src/flowam/weights/{arch}_procedural.flow.json"
    )

    def no_raw_am(*args, **kwargs):
        raise AssertionError("the shipped analysis was not used")

    monkeypatch.setattr(explainer, "explain", no_raw_am)
    auto = auto_alignment(explainer)
    assert auto.weights == shipped.weights and set(auto.weights) <= set(shipped.analysis.layers)
    assert not any(fresh_cache.rglob("auto-*.json"))  # nothing computed, nothing cached
