"""Unit-1 exercises: the MMR check passes an independent answer and catches the usual mistakes, the
package's MMR is what the exercise describes, and the notebook's hidden parts score a partly right
answer partly."""

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursekit.grading.checks import ERROR, FAILED, NOT_ATTEMPTED, PASSED, get_exercise, run_check
from coursekit.grading.delegation import MESSAGE
from coursekit.grading.exercises.u1 import _mmr_reference
from coursekit.ranking import mmr

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "01_content_based_art.ipynb"


def mmr_loop(scores, feats, k, lam):
    """An independent answer: greedy MMR with an explicit running maximum."""
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    value = np.where(np.isfinite(scores), lam * np.asarray(scores, float), -np.inf)
    closest = None
    picked = []
    for _ in range(k):
        objective = value if closest is None else value - (1 - lam) * closest
        best = int(np.argmax(objective))
        picked.append(best)
        value[best] = -np.inf
        sim = unit @ unit[best]
        closest = sim if closest is None else np.maximum(closest, sim)
    return np.array(picked)


def mmr_dot(scores, feats, k, lam):
    """A typical mistake: dot products instead of cosine similarities."""
    value = np.where(np.isfinite(scores), lam * np.asarray(scores, float), -np.inf)
    closest, picked = np.zeros(len(value)), []
    for step in range(k):
        best = int(np.argmax(value - (1 - lam) * closest))
        picked.append(best)
        value[best] = -np.inf
        sim = feats @ feats[best]
        closest = sim if step == 0 else np.maximum(closest, sim)
    return np.array(picked)


def mmr_sum(scores, feats, k, lam):
    """Another: the penalty adds the similarities to every picked item instead of taking the largest."""
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    value = np.where(np.isfinite(scores), lam * np.asarray(scores, float), -np.inf)
    total, picked = np.zeros(len(value)), []
    for _ in range(k):
        best = int(np.argmax(value - (1 - lam) * total))
        picked.append(best)
        value[best] = -np.inf
        total = total + unit @ unit[best]
    return np.array(picked)


def todo(*args):
    raise NotImplementedError()


def test_mmr_check_passes_an_independent_answer_and_fails_mistakes():
    assert run_check("u1.mmr", mmr_loop).status == PASSED
    for wrong in (mmr_dot, mmr_sum, lambda s, f, k, lam: np.argsort(-s)[:k]):
        result = run_check("u1.mmr", wrong)
        assert result.status in (FAILED, ERROR), wrong
        assert result.hint  # a failed attempt shows a hint
    assert run_check("u1.mmr", todo).status == NOT_ATTEMPTED


def test_mmr_exercise_cannot_delegate_to_the_package():
    def lazy(scores, feats, k, lam):
        return mmr(scores[None, :], feats, k, lam)[0][0]

    result = run_check("u1.mmr", lazy)
    assert result.status == FAILED and result.message.startswith(MESSAGE)
    assert get_exercise("u1.mmr").delegates[0] == "coursekit.ranking.mmr"
    assert mmr(np.array([[0.3, 0.9]]), np.eye(2), 1, 0.5)[0].tolist() == [[1]]  # intact afterwards


@pytest.mark.parametrize("seed", range(5))
def test_package_mmr_is_the_greedy_mmr_the_exercise_describes(seed):
    rng = np.random.default_rng(seed)
    n, d, k = 50, 5, 7
    feats = rng.normal(size=(n, d))
    scores = rng.random((3, n))
    scores[1, rng.choice(n, 10, replace=False)] = -np.inf
    for lam in (1.0, 0.8, 0.5, 0.2):
        got, _ = mmr(scores, feats, k, lam)
        for u in range(3):
            assert got[u].tolist() == _mmr_reference(scores[u], feats, k, lam).tolist()
            assert got[u].tolist() == mmr_loop(scores[u], feats, k, lam).tolist()


def test_unit_one_exercises_in_notebook_order():
    from coursekit.grading.checks import exercises

    found = exercises("u1")
    assert [e.id for e in found] == ["u1.zscore", "u1.cosine_topk", "u1.recommend", "u1.ndcg", "u1.mmr"]


def _hidden(exercise: str) -> str:
    nb = nbformat.read(SOLUTION, as_version=4)
    cell = next(c.source for c in nb.cells if c.cell_type == "code" and f'check("{exercise}"' in c.source)
    return cell.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0]


def _parts(exercise: str, answer, name: str) -> dict[str, bool]:
    """Run each hidden part of the solution notebook against ``answer``: {part name: passed}."""
    code = _hidden(exercise)
    chunks = re.split(r"^# part: (.+?) \(\d+ points?\)$", code, flags=re.M)
    setup, parts = chunks[0], dict(zip(chunks[1::2], chunks[2::2]))
    out = {}
    for part, body in parts.items():
        ns = {"np": np, name: answer}
        try:
            exec(compile(setup + body, f"<hidden {exercise}>", "exec"), ns)  # noqa: S102 - the solution's own tests
            out[part] = True
        except AssertionError:
            out[part] = False
    return out


def test_hidden_parts_give_a_partly_right_mmr_partial_credit():
    assert all(_parts("u1.mmr", mmr_loop, "mmr_rerank").values())
    partly = _parts("u1.mmr", lambda s, f, k, lam: np.argsort(-np.asarray(s), kind="stable")[:k], "mmr_rerank")
    assert list(partly.values()) == [True, False, True]  # plain top-k: right at lambda_ = 1 only (and fast)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("exercise, name, good, partly, expected", [
    ("u1.zscore", "zscore",
     lambda x: (x - x.mean(0)) / np.where(x.std(0) == 0, 1, x.std(0)),
     lambda x: (x - x.mean(0)) / x.std(0), [True, False, True]),  # no guard: NaN in the constant column
    ("u1.cosine_topk", "cosine_top_k",
     lambda f, q, k: [i for i in np.argsort(-(f / np.linalg.norm(f, axis=1, keepdims=True)
                                               @ (f[q] / np.linalg.norm(f[q])))) if i != q][:k],
     lambda f, q, k: [i for i in np.argsort(-(f @ f[q])) if i != q][:k], [False, False, False]),  # dot products
    ("u1.recommend", "recommend_for_profile",
     lambda f, c, k: [i for i in np.argsort(-((f / np.linalg.norm(f, axis=1, keepdims=True))[c]
                                              @ (f / np.linalg.norm(f, axis=1, keepdims=True)).T).mean(0))
                      if i not in set(c)][:k],
     lambda f, c, k: [i for i in np.argsort(-(f[c] @ f.T).mean(0)) if i not in set(c)][:k], [True, False]),
    ("u1.ndcg", "ndcg_at_k",
     lambda r, rel, k: sum(1 / np.log2(i + 2) for i, x in enumerate(r[:k]) if x in rel)
     / sum(1 / np.log2(i + 2) for i in range(min(len(rel), k))),
     lambda r, rel, k: sum(1 / np.log2(i + 2) for i, x in enumerate(r[:k]) if x in rel)
     / sum(1 / np.log2(i + 2) for i in range(len(rel))), [True, False]),
])
def test_hidden_parts_of_the_other_exercises(exercise, name, good, partly, expected):
    assert all(_parts(exercise, good, name).values())
    assert list(_parts(exercise, partly, name).values()) == expected
