"""Data sets: the data home, the registry, downloads, toy generators and loaders.

Each data set has one module (``art``, ``ugallery``, ``amazon``, ``music30``, ``lastfm``, ``asos``)
with a ``load_*`` function that takes ``source="toy"`` (generated) or ``"real"``. ``tables`` reads
your own interaction table (CSV or parquet); ``listening`` gives unit 4 its play counts from any of
its sources.
"""

from ._download import download_file, sha256_of
from ._home import get_data_home, get_toy_home
from ._registry import (
    DatasetSpec,
    RemoteFile,
    check_manifest,
    dataset_path,
    fetch,
    get_spec,
    list_datasets,
    load_verified,
    real_path,
    toy_path,
    verify,
)
from .amazon import AmazonData, load_amazon, make_toy_amazon, read_amazon
from .asos import AsosData, load_asos, make_toy_asos, read_asos
from .lastfm import LastfmData, load_lastfm, make_toy_lastfm, read_lastfm
from .listening import Listening, load_listening
from .tables import read_interaction_table
from .art import ArtData, convert_art_pickles, load_art, make_toy_art, read_art
from .music30 import Music30Data, load_music30, make_toy_music30, read_music30
from .ugallery import UGalleryData, convert_embeddings, load_ugallery, make_toy_ugallery, read_ugallery

__all__ = [
    "ArtData", "DatasetSpec", "RemoteFile", "check_manifest", "convert_art_pickles", "dataset_path", "download_file",
    "fetch", "get_data_home", "get_spec", "get_toy_home", "list_datasets", "load_art", "load_verified",
    "make_toy_art", "read_art", "real_path", "sha256_of", "toy_path", "verify",
    "AmazonData", "load_amazon", "make_toy_amazon", "read_amazon",
    "AsosData", "load_asos", "make_toy_asos", "read_asos",
    "LastfmData", "load_lastfm", "make_toy_lastfm", "read_lastfm", "Listening", "load_listening",
    "read_interaction_table",
    "Music30Data", "load_music30", "make_toy_music30", "read_music30",
    "UGalleryData", "convert_embeddings", "load_ugallery", "make_toy_ugallery", "read_ugallery",
]
