"""Explanations in a Jupyter notebook: ``flowam.show(...)`` and inline display.

``show(result)`` (an :class:`~flowam.engine.Explanations`) or ``show(folder)`` (any folder
that ``flowam explain``, ``demo`` or an experiment wrote) returns a :class:`Shown`, which a
notebook displays inline as the interactive report of ``flowam report`` — every cloud in
3-D, the starts, the objective's history, the tables — self-contained: plotly, data and
script travel inside the cell's output, so a saved notebook shows them offline.

Where IPython runs, importing ``flowam`` registers :func:`show` to display every
:class:`~flowam.engine.Explanations` this way (by the class's name), so the value of a cell
that ends in ``explainer.explain(...)`` shows itself. A result shown from memory has no real
objects beside it (the report finds those through a run folder's ``config.json``).
"""

from __future__ import annotations

import html
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flowam import cache
from flowam.engine import Explanations


@dataclass(frozen=True)
class Shown:
    """A report page that displays itself in a notebook (``_repr_html_``)."""

    page: str  # the whole self-contained HTML page
    height: int = 720  # pixels of the notebook cell's frame

    def _repr_html_(self) -> str:
        # an iframe keeps the page's styles and scripts out of the notebook's own
        return (
            f'<iframe srcdoc="{html.escape(self.page, quote=True)}" '
            f'style="width: 100%; height: {self.height}px; border: 0" '
            'sandbox="allow-scripts"></iframe>'
        )

    def save(self, path: str | Path) -> Path:
        """Write the page as a standalone HTML file (atomically); returns its path."""
        cache.write_text(Path(path), self.page)
        return Path(path)


def show(
    what: Explanations | str | Path,
    *,
    label: str = "explanation",
    display_points: int = 512,
    height: int = 720,
) -> Shown:
    """The interactive report of an explanation result or of a run folder.

    Args:
        what: a result of :meth:`flowam.explain.Explainer.explain` (its ``(B, N, 3)``
            clouds, starts and history), or a folder a flowam command wrote.
        label: the method's name on the page (a result from memory).
        display_points: points drawn per cloud (a random subset where a cloud has more).
        height: pixels of the frame in the notebook.
    """
    from flowam.outputs import folder_name, write_clouds
    from flowam.report import report_html

    if not isinstance(what, Explanations):
        return Shown(report_html(Path(what), display_points), height)
    with tempfile.TemporaryDirectory(prefix="flowam-show-") as tmp:
        write_clouds(what, Path(tmp) / folder_name(label), [{}] * len(what))
        page = report_html(Path(tmp), display_points, real=0, title=f"flowam: {label}")
    return Shown(page, height)
