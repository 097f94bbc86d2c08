"""Static review: lines of a submission that use tools a forged result would need (a human looks;
the score never changes)."""

from __future__ import annotations

import re

REVIEW = [
    (re.compile(r"\bctypes\b"), "ctypes"),
    (re.compile(r"\bgc\s*\.\s*get_(objects|referrers|referents)\b"), "gc introspection"),
    (re.compile(r"_getframe|\bcurrentframe\b|inspect\s*\.\s*stack\b|\btb_frame\b|\bf_back\b|\bf_globals\b|"
                r"\bf_locals\b|\bgi_frame\b|__closure__"), "frame or closure introspection"),
    (re.compile(r"\bsettrace\b|\bsetprofile\b|\baddaudithook\b|sys\s*\.\s*audit\b"), "interpreter hooks"),
    (re.compile(r"input_transformers|ast_transformers|\bevents\s*\.\s*register\b|display_pub\b|"
                r"\bdisplayhook\b"), "IPython internals"),
    (re.compile(r"coursekit\s*\.\s*grading(?!\s*\.\s*enforce\b)|coursekit_hidden|\b_ck_|\b_ih\b|\b_i\d+\b|\bIn\s*\["),
     "the grader or the input history"),
    (re.compile(r"/proc\b|\bos\s*\.\s*(kill|killpg|fork|_exit)\b|\bsignal\s*\.|\bsubprocess\b|\bsocket\b"),
     "processes or the network"),
    (re.compile(r"(?<![\w.])(exec|eval|compile)\s*\(|__import__|__builtins__|\bimport\s+builtins\b|__code__"),
     "dynamic code"),
]


def review_notes(submission, released) -> list[str]:
    """What a human should look at: lines the student wrote (not in the released notebook) that
    use tools a forged result would need. Never changes a score."""
    given = {line.strip() for cell in released.cells if cell.get("cell_type") == "code"
             for line in cell.get("source", "").splitlines()}
    found: dict[str, list[int]] = {}
    for index, cell in enumerate(submission.cells):
        if cell.get("cell_type") != "code":
            continue
        for line in str(cell.get("source", "")).splitlines():
            text = line.strip()
            if not text or text in given or text.startswith("#"):
                continue
            for pattern, what in REVIEW:
                if pattern.search(text) and index not in found.setdefault(what, []):
                    found[what].append(index)
    return [f"review by hand: uses {what} (cell {', '.join(map(str, cells[:5]))})" for what, cells in found.items()]
