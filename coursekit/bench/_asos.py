"""The ASOS data for the unit 4 and 5 benches: the real files when they are in the data home,
else toy data generated at the real size (43,607 users, 29,696 products). A bench never downloads."""

from __future__ import annotations

REAL_SIZE = dict(n_users=43_607, n_products=29_696, mean_purchases=3.8)


def asos_for_bench():
    """(AsosData, source label)."""
    from ..datasets._registry import real_path
    from ..datasets.asos import load_asos, read_asos
    from ..errors import DataError

    try:
        return read_asos(real_path("asos", download_if_missing=False)), "real ASOS"
    except DataError:
        return load_asos("toy", **REAL_SIZE), "toy ASOS at real size (real files not in the data home)"
