"""coursekit: the helper package of a Jupyter course on recommender systems.

Importing it is cheap: it does not import torch or tensorflow (framework code lives in
``coursekit.models.torch_*`` and ``coursekit.models.tf_*``, imported where a unit needs it).
"""

from .claims import (ClaimError, claim, claim_better, claim_not_better, claim_similar, compare, record_claims,
                     skip_claim)
from .errors import DataError
from .recording import record
from .session import record_runtime, start_notebook

__version__ = "0.1.0"

__all__ = ["ClaimError", "DataError", "check", "claim", "claim_better", "claim_not_better", "claim_similar",
           "compare", "record", "record_claims", "record_runtime", "skip_claim", "start_notebook", "__version__"]


def check(exercise: str, *args, **kwargs):
    """Run the student checks of one exercise and show pass / fail with a hint.

    Example: ``check("u1.zscore", zscore)``. See :mod:`coursekit.grading.checks`.
    """
    from .grading.checks import check as _check

    return _check(exercise, *args, **kwargs)
