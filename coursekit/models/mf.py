"""Matrix factorisation for implicit feedback: alternating least squares (ALS) on play counts.

Hu, Koren and Volinsky (ICDM 2008) read a play count ``r`` as two things: a **preference**
``p = 1`` (the user played the artist; 0 for every other artist) and a **confidence**
``c = 1 + alpha * s(r)`` in that preference (``s`` a scaling such as ``log(1 + r)``; an artist
never played gets ``c = 1``). User vectors ``x_u`` and artist vectors ``y_i`` minimise

    sum over all (u, i) of c_ui (p_ui - x_u . y_i)^2  +  reg (sum |x_u|^2 + sum |y_i|^2)

over **every** cell of the matrix, played or not. With the artist vectors fixed, each user's
vector solves a ridge regression (the normal equations)

    (Y'Y + Y'(C_u - I)Y + reg I) x_u = Y' C_u p_u,

where only the user's played artists enter ``Y'(C_u - I)Y`` and ``Y' C_u p_u``: the sum over the
unplayed artists is the shared ``Y'Y``. ALS alternates: all users given the artists, then all
artists given the users. :func:`als_solve` solves the equations exactly for every row at once
(a stack of small systems, the unit's exercise); :class:`ImplicitALS` uses a few conjugate-gradient
steps per row instead, started from the previous vectors (Takacs, Pilaszy and Tikk, RecSys 2011;
what the ``implicit`` library does), which never forms the per-row matrices. Both are vectorised
over rows: no Python loop over users, artists or plays.

:class:`ImplicitLibraryALS` wraps ``implicit``'s ALS (Frederickson, github.com/benfred/implicit),
the well-kept reference the unit compares the kit's version with.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..interactions import Interactions, scale_counts
from .knn import _Recommender, dense_top_n, similar_by_vectors

__all__ = ["ImplicitALS", "ImplicitLibraryALS", "als_solve", "als_cg", "confidence"]


def confidence(matrix: sp.spmatrix, alpha: float = 1.0, scaling: str | None = "log") -> sp.csr_matrix:
    """``alpha * s(count)`` on the played pairs: the confidence of each preference above the 1 that
    every cell gets (float64 CSR, the pattern of ``matrix``; ``scaling`` as in
    :func:`coursekit.interactions.scale_counts`)."""
    w = scale_counts(matrix, scaling).astype(np.float64)
    w.data *= alpha
    return w


def als_solve(weights: sp.spmatrix, other: np.ndarray, reg: float) -> np.ndarray:
    """Exact ALS half-step: the factor of every row of ``weights`` given the other side's factors.

    ``weights``: CSR (n_rows, n_cols), ``c - 1`` on the played pairs (the preference is 1 there);
    ``other``: (n_cols, f) factors of the columns. Row u's factor solves
    ``(Y'Y + sum_i w_ui y_i y_i' + reg I) x_u = sum_i (1 + w_ui) y_i``. Vectorised: the per-row
    matrices come from one sparse product with the columns' outer products (n_cols x f*f, so
    for a small f), then one batched solve.
    """
    w = sp.csr_matrix(weights, dtype=np.float64)
    y = np.asarray(other, dtype=np.float64)
    f = y.shape[1]
    outer = (y[:, :, None] * y[:, None, :]).reshape(len(y), f * f)
    a = (w @ outer).reshape(-1, f, f) + (y.T @ y + reg * np.eye(f))
    b = w @ y + (w != 0) @ y
    return np.linalg.solve(a, b[:, :, None])[:, :, 0]


def als_cg(weights: sp.csr_matrix, other: np.ndarray, reg: float, start: np.ndarray, steps: int = 3) -> np.ndarray:
    """ALS half-step by ``steps`` conjugate-gradient iterations per row, from ``start``.

    Solves the same equations as :func:`als_solve` for all rows at once without forming any f x f
    matrix per row: ``A_u x = Y'Y x + sum_i w_ui (y_i . x) y_i + reg x`` costs one sparse product.
    """
    w = weights if weights.dtype == np.float32 else sp.csr_matrix(weights, dtype=np.float32)  # as implicit: half
    # the memory traffic of float64
    y = np.asarray(other, dtype=np.float32)
    counts = np.diff(w.indptr)
    y_played = y[w.indices]  # the other side's factor of every played pair, fixed during the half-step
    gram = (y.T @ y + reg * np.eye(y.shape[1], dtype=np.float32)).astype(np.float32)

    def times_a(x):
        dots = np.einsum("nf,nf->n", np.repeat(x, counts, axis=0), y_played)  # x_u . y_i on played pairs
        return x @ gram + sp.csr_matrix((w.data * dots, w.indices, w.indptr), shape=w.shape) @ y

    x = np.array(start, dtype=np.float32, copy=True)
    b = w @ y + sp.csr_matrix((np.ones_like(w.data), w.indices, w.indptr), shape=w.shape) @ y
    r = b - times_a(x)
    p = r.copy()
    rs = np.einsum("nf,nf->n", r, r)
    for _ in range(steps):
        ap = times_a(p)
        denom = np.einsum("nf,nf->n", p, ap)
        step = np.divide(rs, denom, out=np.zeros_like(rs), where=denom > 1e-30)
        x += step[:, None] * p
        r -= step[:, None] * ap
        rs_new = np.einsum("nf,nf->n", r, r)
        beta = np.divide(rs_new, rs, out=np.zeros_like(rs), where=rs > 1e-30)
        p = r + beta[:, None] * p
        rs = rs_new
    return x


class _FactorModel(_Recommender):
    """Ranking for factor models: score = user factors @ item factors, top-n by the shared top-k."""

    def _sparse_scores(self, user_rows):  # dense scores: every artist gets one
        raise NotImplementedError

    def score(self, user_rows) -> np.ndarray:
        """float64 (len(user_rows), n_items): the dot products of user and item factors."""
        self._check_fitted()
        return np.asarray(self.user_factors_[np.asarray(user_rows, dtype=np.int64)] @ self.item_factors_.T,
                          dtype=np.float64)

    def top_n(self, user_rows, n: int = 10, exclude=None) -> np.ndarray:
        """int64 (len(user_rows), n): the best item columns, ``exclude``'s items left out."""
        self._check_fitted()
        return dense_top_n(self.score(user_rows), n, exclude, self.tie_break_)

    def similar_items(self, item_ids, n: int = 10) -> np.ndarray:
        """ORIGINAL ids (len(item_ids), n) of the items whose factors are closest by cosine."""
        self._check_fitted()
        return similar_by_vectors(self.item_factors_, self.interactions_, item_ids, n)


class ImplicitALS(_FactorModel):
    """Implicit-feedback ALS (Hu, Koren and Volinsky 2008), vectorised, with scikit-learn's shape.

    Parameters
    ----------
    factors : length f of the user and item vectors.
    regularization : reg, the weight of the L2 penalty.
    alpha, scaling : confidence ``1 + alpha * s(count)`` of a played pair (:func:`confidence`).
    iterations : ALS sweeps (users then items).
    solver : ``"cg"`` (``cg_steps`` conjugate-gradient steps per half-step, warm-started) or
        ``"exact"`` (:func:`als_solve`; memory n_rows x f*f, for small f).
    seed : seeds the initial factors (normal, standard deviation 0.01).

    Attributes after fit: ``user_factors_`` (n_users, f), ``item_factors_`` (n_items, f) float32,
    ``fit_seconds_``, ``loss_`` (the objective after each sweep, when ``track_loss``).
    """

    def __init__(self, factors: int = 64, regularization: float = 0.1, alpha: float = 1.0,
                 scaling: str | None = "log", iterations: int = 15, solver: str = "cg", cg_steps: int = 3,
                 seed: int = 0, track_loss: bool = False, batch_size: int = 4096):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.scaling = scaling
        self.iterations = iterations
        self.solver = solver
        self.cg_steps = cg_steps
        self.seed = seed
        self.track_loss = track_loss
        self.batch_size = batch_size

    def fit(self, interactions: Interactions) -> "ImplicitALS":
        if self.solver not in ("cg", "exact"):
            raise ValueError(f"solver must be 'cg' or 'exact', got {self.solver!r}")
        from threadpoolctl import threadpool_limits

        start = time.perf_counter()
        self._set_train(interactions)
        w = confidence(interactions.matrix, self.alpha, self.scaling)
        if self.solver == "cg":
            w = w.astype(np.float32)
        wt = w.T.tocsr()
        rng = np.random.default_rng(self.seed)
        x = rng.normal(0.0, 0.01, (w.shape[0], self.factors))
        y = rng.normal(0.0, 0.01, (w.shape[1], self.factors))
        self.loss_ = []
        with threadpool_limits(1, "blas"):  # small products: threads only wait for each other
            for _ in range(self.iterations):
                if self.solver == "exact":
                    x = als_solve(w, y, self.regularization)
                    y = als_solve(wt, x, self.regularization)
                else:
                    x = als_cg(w, y, self.regularization, x, self.cg_steps)
                    y = als_cg(wt, x, self.regularization, y, self.cg_steps)
                if self.track_loss:
                    self.loss_.append(als_loss(w, x, y, self.regularization))
        self.user_factors_, self.item_factors_ = x.astype(np.float32), y.astype(np.float32)
        self.fit_seconds_ = time.perf_counter() - start
        return self


def als_loss(weights: sp.csr_matrix, x: np.ndarray, y: np.ndarray, reg: float) -> float:
    """The ALS objective over every cell (played cells from the sparse pattern, the rest from
    ``sum (x_u . y_i)^2 = sum of (X'X * Y'Y)``), without a dense n_rows x n_cols matrix."""
    w = sp.csr_matrix(weights)
    rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
    pred = np.einsum("nf,nf->n", x[rows], y[w.indices])
    everywhere = float(np.sum((x.T @ x) * (y.T @ y)))  # sum over all cells of pred^2 with weight 1
    played = float(np.sum((1 + w.data) * (1 - pred) ** 2 - pred ** 2))  # replace those cells' terms
    return everywhere + played + reg * float((x ** 2).sum() + (y ** 2).sum())


class ImplicitLibraryALS(_FactorModel):
    """``implicit``'s ``AlternatingLeastSquares`` with the kit's interface (fit on
    :class:`~coursekit.interactions.Interactions`, ``score``/``top_n``/``recommend``), the reference
    for :class:`ImplicitALS`. The confidence matrix is built the same way (:func:`confidence`);
    BLAS runs on one thread while fitting (``implicit`` asks for it), and the fit is seeded.
    """

    def __init__(self, factors: int = 64, regularization: float = 0.1, alpha: float = 1.0,
                 scaling: str | None = "log", iterations: int = 15, seed: int = 0, batch_size: int = 4096):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.scaling = scaling
        self.iterations = iterations
        self.seed = seed
        self.batch_size = batch_size

    def fit(self, interactions: Interactions) -> "ImplicitLibraryALS":
        import warnings

        from threadpoolctl import threadpool_limits

        start = time.perf_counter()
        self._set_train(interactions)
        try:
            with warnings.catch_warnings():  # tqdm.auto warns in a notebook without ipywidgets
                warnings.simplefilter("ignore")
                from implicit.cpu.als import AlternatingLeastSquares
        except ImportError as exc:  # pragma: no cover - a platform without implicit's wheels
            raise ImportError("the implicit library is not installed: pip install implicit (coursekit's "
                              "ImplicitALS is the same model without it)") from exc
        c = confidence(interactions.matrix, self.alpha, self.scaling).astype(np.float32)
        c.data += 1.0  # implicit reads the whole confidence c = 1 + alpha * s(count) from the matrix
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # its BLAS advice: followed here
            model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization, alpha=1.0,
                                            iterations=self.iterations, random_state=self.seed, num_threads=1,
                                            calculate_training_loss=False)
            model.fit(c, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        self.fit_seconds_ = time.perf_counter() - start
        return self
