"""Recommender models. Importing this package does not import torch or tensorflow: the
framework models live in their own modules (``coursekit.models.torch_*``, ``coursekit.models.tf_*``)."""

from .content import ContentRecommender

__all__ = ["ContentRecommender"]
