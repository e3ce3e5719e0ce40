"""flowam: global explanations of point cloud classifiers by activation maximization.

The pipeline (each arrow a plain value, each stage usable alone)::

    dataset -> classifier -> class statistics -> objectives -> engine -> explanations -> metrics

Where IPython runs, importing flowam teaches it to display every
:class:`~flowam.engine.Explanations` inline (:func:`flowam.notebook.show`), registered by
the class's name: nothing heavier is imported until a result is displayed.
"""

import sys

from flowam.errors import FlowamError

__version__ = "0.1.0"

__all__ = ["FlowamError", "__version__", "show"]


def __getattr__(name: str):
    """``flowam.show`` (:func:`flowam.notebook.show`), imported when first used: importing
    ``flowam`` itself stays light."""
    if name == "show":
        from flowam.notebook import show

        return show
    raise AttributeError(f"module 'flowam' has no attribute {name!r}")


def _inline(result) -> str:
    """The notebook cell's HTML of an :class:`~flowam.engine.Explanations`."""
    from flowam.notebook import show

    return show(result)._repr_html_()


def _display_inline() -> None:
    """Register :func:`_inline` with the running IPython by the class's module and name
    (nothing where IPython is not running)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        formatter = shell.display_formatter.formatters["text/html"]
        formatter.for_type_by_name("flowam.engine", "Explanations", _inline)


_display_inline()
