"""flowam: global explanations of point cloud classifiers by activation maximization.

The pipeline (each arrow a plain value, each stage usable alone)::

    dataset -> classifier -> class statistics -> objectives -> engine -> explanations -> metrics
"""

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
