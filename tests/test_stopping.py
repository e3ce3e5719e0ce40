"""flowam.stopping: the first signal is a request, the second quits, and a signal that
lands after the command is over still ends with the stop's status. (The commands'
behaviour under real signals is tested in test_runfolder.py.)"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from flowam import stopping


def test_a_request_is_raised_where_the_work_checks(monkeypatch):
    monkeypatch.setattr(stopping, "_requested", None)
    stopping.check()  # nothing requested: nothing raised
    monkeypatch.setattr(stopping, "_requested", signal.SIGTERM)
    with pytest.raises(stopping.Stopped, match="SIGTERM"):
        stopping.check()
    assert stopping.exit_code() == 143 and stopping.exit_code(signal.SIGINT) == 130


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_after_the_command_ends_exits_with_the_stop_status(signum, status):
    """Before the fix, a Ctrl-C landing while the interpreter shut down raised a
    KeyboardInterrupt there, and Python ended the process by the signal (status -2)."""
    code = (
        "import os, time; from flowam import stopping; stopping.install(); "
        f"stopping.finished(); os.kill(os.getpid(), {int(signum)}); time.sleep(10)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == status, done.stderr.decode()
    assert b"Traceback" not in done.stderr
