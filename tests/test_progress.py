"""flowam.progress: the bars honour TQDM_DISABLE and log sparsely where stderr is no terminal."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("value", "off"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_progress_bars_honour_tqdm_disable(value, off, monkeypatch):
    from flowam.progress import LOG_INTERVAL, bar

    monkeypatch.setenv("TQDM_DISABLE", value)
    progress = bar(range(3))
    assert progress.disable is off
    if not off:  # pytest's stderr is no terminal: a line every few seconds at most
        assert progress.mininterval == LOG_INTERVAL
    progress.close()
    assert bar(range(3), progress=False).disable
