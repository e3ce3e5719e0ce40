"""The built-in procedural shape dataset (the default of every command)."""

from flowam.data.procedural.catalog import FAMILIES
from flowam.data.procedural.generate import load_procedural, object_mesh, sample_object

__all__ = ["FAMILIES", "load_procedural", "object_mesh", "sample_object"]
