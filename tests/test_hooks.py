import pytest
import torch
from torch import nn

from flowam.errors import FlowamError
from flowam.hooks import LayerRecorder, layer_names
from flowam.models import get_model


def hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_records_outputs_and_inputs_by_name():
    model = get_model("pointnet", 4).eval()
    x = torch.rand(2, 32, 3)
    with LayerRecorder(model, ["feat.stn.fc1", "fc2", "fc3:input"]) as rec:
        out = model(x)
    assert rec["feat.stn.fc1"].shape == (2, 512)
    assert rec["fc2"].shape == (2, 256)
    assert rec["fc3:input"].shape == (2, 256)
    assert torch.allclose(model.fc3(rec["fc3:input"]), out)
    assert rec["fc2"].requires_grad or not torch.is_grad_enabled()


def test_hooks_are_removed_also_on_exceptions():
    model = get_model("pointnet", 4).eval()
    before = hook_count(model)
    with pytest.raises(RuntimeError), LayerRecorder(model, ["fc1", "fc2:input"]):
        assert hook_count(model) == before + 2
        raise RuntimeError("boom")
    assert hook_count(model) == before
    with LayerRecorder(model, ["fc1"]):
        model(torch.rand(2, 16, 3))
    assert hook_count(model) == before


def test_unknown_layer_lists_close_or_valid_names():
    model = get_model("pointnet", 4)
    with pytest.raises(
        FlowamError, match=r"unknown layer 'feat.stn.fc4' in PointNet; did you mean .*feat.stn.fc"
    ):
        LayerRecorder(model, ["feat.stn.fc4"])
    tiny = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(FlowamError, match=r"valid names: 0"):
        LayerRecorder(tiny, ["zzz"])
    assert "feat.fstn.fc2" in layer_names(model)


def test_detached_recording_and_missing_activation():
    model = get_model("pointnet", 4).eval()
    x = torch.rand(2, 16, 3, requires_grad=True)
    with LayerRecorder(model, ["fc1"], detach=True) as rec:
        model(x)
    assert not rec["fc1"].requires_grad
    with LayerRecorder(model, ["fc2"]) as rec, pytest.raises(KeyError, match="was not recorded"):
        rec["fc2"]


def test_batch_norm_calls_are_in_forward_order_with_their_output_dimensions():
    from flowam.hooks import batch_norm_calls
    from flowam.models import get_model

    torch.manual_seed(0)
    model = get_model("dgcnn", 3)
    model.train()
    calls = batch_norm_calls(model, torch.rand(2, 64, 3))
    assert list(calls) == ["bn1", "bn2", "bn3", "bn4", "bn5", "bn6", "bn7"]
    assert [calls[n] for n in ("bn1", "bn5", "bn6")] == [4, 3, 2]
    assert model.training  # the probe ran in eval mode and put the mode back
