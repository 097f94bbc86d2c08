"""Data sets: the data home, the registry, downloads, toy generators and loaders.

Each data set has one module (``art``, ``ugallery``, ``amazon``, ``music30``, ``asos``) with a
``load_*`` function that takes ``source="toy"`` (generated, the default) or ``"real"``.
"""

from ._download import download_file, sha256_of
from ._home import get_data_home, get_toy_home
from ._registry import (
    DatasetSpec,
    RemoteFile,
    dataset_path,
    fetch,
    get_spec,
    list_datasets,
    real_path,
    toy_path,
    verify,
)
from .amazon import AmazonData, load_amazon, make_toy_amazon, read_amazon
from .asos import AsosData, load_asos, make_toy_asos, read_asos
from .art import ArtData, convert_art_pickles, load_art, make_toy_art, read_art
from .ugallery import UGalleryData, convert_embeddings, load_ugallery, make_toy_ugallery, read_ugallery

__all__ = [
    "ArtData", "DatasetSpec", "RemoteFile", "convert_art_pickles", "dataset_path", "download_file",
    "fetch", "get_data_home", "get_spec", "get_toy_home", "list_datasets", "load_art",
    "make_toy_art", "read_art", "real_path", "sha256_of", "toy_path", "verify",
    "AmazonData", "load_amazon", "make_toy_amazon", "read_amazon",
    "AsosData", "load_asos", "make_toy_asos", "read_asos",
    "UGalleryData", "convert_embeddings", "load_ugallery", "make_toy_ugallery", "read_ugallery",
]
