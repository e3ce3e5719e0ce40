"""flowam.devices: an unavailable device is one line, from Python and from every command."""

import pytest

from conftest import cli_commands, run_cli, with_arguments


def commands_with_device() -> list[list[str]]:
    """Every command (as its words) that takes ``--device``."""
    commands = cli_commands().items()
    return [
        with_arguments(w, c) for w, c in commands if any("--device" in p.opts for p in c.params)
    ]


def test_every_command_answers_an_unavailable_device_in_one_line(monkeypatch, capsys):
    commands = commands_with_device()
    assert ["explain"] in commands and ["train-generator"] in commands and len(commands) >= 15
    for words in commands:
        # cuda:99 exists on no machine: without CUDA, or with fewer GPUs, it fails alike
        for device, message in (("cuda:99", "--device cuda:99: "), ("gpu", "not a device")):
            code, out, err = run_cli([*words, "--device", device], monkeypatch, capsys)
            lines = err.strip().splitlines()
            assert code == 1 and len(lines) == 1, (words, err)
            assert lines[0].startswith("error: ") and message in lines[0], (words, lines)
            assert "Traceback" not in out + err


def test_check_device_from_python():
    import torch

    from flowam.devices import check_device
    from flowam.errors import FlowamError
    from flowam.models import load_classifier

    assert check_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(FlowamError, match="--device cuda: ") as e:
            load_classifier(device="cuda")
        assert "\n" not in str(e.value)
