"""Generative baselines: point cloud autoencoders (AE, AED, NAED) and their training."""

from flowam.generative.networks import KINDS, Discriminator, Generator, PointAutoencoder
from flowam.generative.training import (
    GeneratorConfig,
    generator_name,
    load_generator,
    resolve_generator,
    train_generator,
)

__all__ = [
    "KINDS",
    "Discriminator",
    "Generator",
    "GeneratorConfig",
    "PointAutoencoder",
    "generator_name",
    "load_generator",
    "resolve_generator",
    "train_generator",
]
