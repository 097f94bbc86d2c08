"""Unit 2 data: the UGallery release (inventory, purchases, ResNet50 embeddings)."""

from __future__ import annotations

from ._registry import DatasetSpec, RemoteFile, register

FILES = {
    "inventory": "ugallery_inventory.csv",
    "purchases": "ugallery_purchases.csv",
    "embeddings": "ugallery_resnet50_embeddings.npy",
}
MANUAL = (
    "the UGallery data is shared by its authors on request (see the CuratorNet repository, "
    "github.com/aaossa/CuratorNet): put ugallery_inventory.csv, ugallery_purchases.csv and "
    "ugallery_resnet50_embeddings.npy into <data home>/ugallery"
)

SPEC = register(
    DatasetSpec(
        name="ugallery",
        title="UGallery: one-of-a-kind artworks, purchases and ResNet50 embeddings",
        files=tuple(RemoteFile(n) for n in FILES.values()),
        unit="02",
        manual=MANUAL,
    )
)
