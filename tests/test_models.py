"""Architectures, checkpoint compatibility with the reference implementations, safe loading."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from flowam.models import MODELS, get_model, load_classifier
from flowam.models.checkpoint import CheckpointError, read_state_dict, save_model
from flowam.models.registry import guess_architecture


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_architecture_maps_points_to_logits(name):
    torch.manual_seed(0)
    model = get_model(name, 7).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 512, 3) * 2 - 1)
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    assert guess_architecture(model.state_dict()) == (name, 7)


class RefSTN(nn.Module):
    """The reference T-net, written from its published structure (names and math)."""

    def __init__(self, k):
        super().__init__()
        self.k = k
        self.conv1, self.conv2, self.conv3 = (
            nn.Conv1d(k, 64, 1),
            nn.Conv1d(64, 128, 1),
            nn.Conv1d(128, 1024, 1),
        )
        self.fc1, self.fc2, self.fc3 = (
            nn.Linear(1024, 512),
            nn.Linear(512, 256),
            nn.Linear(256, k * k),
        )
        self.relu = nn.ReLU()
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(64), nn.BatchNorm1d(128), nn.BatchNorm1d(1024)
        self.bn4, self.bn5 = nn.BatchNorm1d(512), nn.BatchNorm1d(256)

    def forward(self, x):
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
            x = F.relu(bn(conv(x)))
        x = torch.max(x, 2, keepdim=True)[0].view(-1, 1024)
        x = F.relu(self.bn5(self.fc2(F.relu(self.bn4(self.fc1(x))))))
        return (self.fc3(x) + torch.eye(self.k).flatten()).view(-1, self.k, self.k)


class RefEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.stn, self.fstn = RefSTN(3), RefSTN(64)
        self.conv1, self.conv2, self.conv3 = (
            nn.Conv1d(3, 64, 1),
            nn.Conv1d(64, 128, 1),
            nn.Conv1d(128, 1024, 1),
        )
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(64), nn.BatchNorm1d(128), nn.BatchNorm1d(1024)

    def forward(self, x):  # (B, 3, N), as the reference takes it
        x = torch.bmm(x.transpose(2, 1), self.stn(x)).transpose(2, 1)
        x = F.relu(self.bn1(self.conv1(x)))
        x = torch.bmm(x.transpose(2, 1), self.fstn(x)).transpose(2, 1)
        x = self.bn3(self.conv3(F.relu(self.bn2(self.conv2(x)))))
        return torch.max(x, 2, keepdim=True)[0].view(-1, 1024)


class RefPointNet(nn.Module):
    """``get_model`` of Pointnet_Pointnet2_pytorch's pointnet_cls: log-probabilities out."""

    def __init__(self, k):
        super().__init__()
        self.feat = RefEncoder()
        self.fc1, self.fc2, self.fc3 = nn.Linear(1024, 512), nn.Linear(512, 256), nn.Linear(256, k)
        self.dropout = nn.Dropout(p=0.4)
        self.bn1, self.bn2 = nn.BatchNorm1d(512), nn.BatchNorm1d(256)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = F.relu(self.bn1(self.fc1(self.feat(x))))
        x = F.relu(self.bn2(self.dropout(self.fc2(x))))
        return F.log_softmax(self.fc3(x), dim=1)


def randomise_batch_norms(model):
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


def test_reference_pointnet_checkpoint_loads_unchanged_and_gives_the_same_logits(tmp_path):
    torch.manual_seed(1)
    ref = RefPointNet(40)
    randomise_batch_norms(ref)
    ref.eval()
    path = tmp_path / "best_model.pth"
    torch.save(
        {
            "epoch": 10,
            "instance_acc": 0.9,
            "model_state_dict": ref.state_dict(),
            "optimizer_state_dict": {},
        },
        path,
    )
    model, info = load_classifier(path)
    assert info.architecture == "pointnet" and len(info.classes) == 40
    assert info.classes[:3] == ["airplane", "bathtub", "bed"]  # ModelNet40's names for 40 classes
    pts = torch.rand(3, 200, 3) * 2 - 1
    with torch.no_grad():
        expected = ref(pts.transpose(1, 2))
        got = F.log_softmax(model(pts), dim=1)
    assert torch.allclose(got, expected, atol=1e-5)


def test_dgcnn_dataparallel_checkpoint_loads(tmp_path):
    torch.manual_seed(2)
    src = get_model("dgcnn", 40).eval()
    keys = set(src.state_dict())
    assert {
        "bn1.weight",
        "conv1.1.weight",
        "conv1.0.weight",
        "linear1.weight",
        "bn7.running_var",
    } <= keys
    path = tmp_path / "model.t7"
    torch.save({f"module.{k}": v for k, v in src.state_dict().items()}, path)
    model, info = load_classifier(path)
    pts = torch.rand(2, 64, 3)
    with torch.no_grad():
        assert torch.allclose(model(pts), src(pts), atol=1e-6)
    assert info.architecture == "dgcnn"


def test_pointnet2_keys_and_shapes_follow_the_reference():
    ssg = {k: tuple(v.shape) for k, v in get_model("pointnet2_ssg", 40).state_dict().items()}
    assert ssg["sa1.mlp_convs.0.weight"] == (64, 3, 1, 1)
    assert ssg["sa2.mlp_convs.0.weight"] == (128, 131, 1, 1)
    assert ssg["sa3.mlp_convs.2.weight"] == (1024, 512, 1, 1)
    assert ssg["fc3.weight"] == (40, 256) and "bn2.running_mean" in ssg
    msg = {k: tuple(v.shape) for k, v in get_model("pointnet2_msg", 40).state_dict().items()}
    assert msg["sa1.conv_blocks.2.1.weight"] == (96, 64, 1, 1)
    assert msg["sa2.conv_blocks.0.0.weight"] == (64, 323, 1, 1)
    assert msg["sa3.mlp_convs.0.weight"] == (256, 643, 1, 1)


def test_mismatched_checkpoint_gives_one_readable_line(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(get_model("pointnet", 40).state_dict(), path)
    with pytest.raises(CheckpointError) as e:
        get_model("pointnet", 16, weights=path)
    text = str(e.value)
    assert "\n" not in text
    assert "does not fit pointnet (16 classes)" in text
    assert "2 shape conflicts" in text and "fc3.weight (40, 256) vs (16, 256)" in text
    assert "it looks like pointnet with 40 classes" in text
    with pytest.raises(CheckpointError) as e:
        get_model("dgcnn", 40, weights=path)
    assert "60 missing keys (bn3.weight" in str(e.value) and "unexpected keys" in str(e.value)
    assert "looks like pointnet with 40 classes" in str(e.value)


def test_malformed_files_are_refused_with_a_clear_message(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    evil = tmp_path / "evil.pth"
    torch.save({"model_state_dict": {"w": torch.zeros(1)}, "x": Evil()}, evil)
    with pytest.raises(CheckpointError, match="refused to load: the file holds a print object"):
        read_state_dict(evil)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth: not a PyTorch checkpoint"):
        read_state_dict(junk)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 4)
    with pytest.raises(CheckpointError, match="bad.safetensors: not a readable safetensors file"):
        read_state_dict(bad)
    torch.save({"epoch": 3}, tmp_path / "nostate.pth")
    with pytest.raises(CheckpointError, match="holds no state dict"):
        read_state_dict(tmp_path / "nostate.pth")
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        read_state_dict(tmp_path / "missing.pth")
    torch.save({"a.weight": torch.zeros(2)}, tmp_path / "unknown.pth")
    with pytest.raises(CheckpointError, match="cannot tell the architecture") as caught:
        load_classifier(tmp_path / "unknown.pth")
    message = str(caught.value)  # each architecture's layout by one key, and the way out
    for key in ("pointnet: feat.stn.conv1.weight", "dgcnn: conv1.0.weight", "sa1.mlp_convs"):
        assert key in message
    assert "docs/data-and-models.md: 'Your own nn.Module'" in message and "\n" not in message
    guide = Path(__file__).resolve().parents[1] / "docs" / "data-and-models.md"
    assert "## Your own `nn.Module`" in guide.read_text()


@pytest.mark.parametrize("arch", ["pointnet", "dgcnn"])  # dgcnn: modules with two names
@pytest.mark.parametrize("half", [False, True])
def test_own_files_round_trip_with_metadata(tmp_path, arch, half):
    torch.manual_seed(3)
    model = get_model(arch, 3).eval()
    meta = {
        "architecture": arch,
        "num_classes": 3,
        "classes": ["a", "b", "c"],
        "num_points": 256,
    }
    save_model(model, tmp_path / "m.safetensors", meta, half=half)
    loaded, info = load_classifier(tmp_path / "m.safetensors")
    assert info.classes == ["a", "b", "c"] and info.num_points == 256
    x = torch.rand(2, 100, 3)
    with torch.no_grad():
        if half:
            assert torch.allclose(loaded(x), model(x), atol=0.05)
        else:
            assert torch.equal(loaded(x), model(x))


def test_pointnet2_needs_enough_points():
    with pytest.raises(Exception, match="samples 512 centers at this level but the cloud has 100"):
        get_model("pointnet2_ssg", 4).eval()(torch.rand(1, 100, 3))


def test_unknown_architecture():
    with pytest.raises(Exception, match="unknown architecture 'pointnet3'; choose one of"):
        get_model("pointnet3", 10)
