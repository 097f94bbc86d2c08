"""Recommender models. Importing this package does not import torch or tensorflow: the
framework models live in their own modules (``coursekit.models.torch_*``, ``coursekit.models.tf_*``)."""

from .content import ContentRecommender
from .knn import ItemKNN, Popularity, UserKNN

__all__ = ["ContentRecommender", "ItemKNN", "Popularity", "UserKNN"]
