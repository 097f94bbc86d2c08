"""The guard of a grading run: results only the grader writes, tampering found, hidden tests out of reach.

``coursekit grade`` runs each submission once (:mod:`coursekit.grading.run`): the submission with
cells of the grader's own. This package is those cells' machinery, in the order a run uses it:

1. :mod:`.channel` (grader side): a secret key per run, requests **encrypted** (an HMAC-SHA256
   keystream) and **signed**, and :meth:`Channel.read`, which trusts only records signed with the
   key. Output metadata, printed text and anything else a notebook displays count for nothing.
2. :mod:`.kernel` (in the kernel): ``arm(run_dir, config)``, the first cell, before any student
   code. It reads the key (and deletes its file), imports what the checks and hidden tests use,
   binds the solution's imports in a namespace of its own, takes a **snapshot** of the objects
   grading relies on, and installs an audit hook (PEP 578) that holds all of that in its closures
   only: no module attribute, no global refers to it, and audit hooks cannot be removed. After
   each exercise's check cell, ``__import__('sys').audit('coursekit.grade', nonce, ciphertext,
   tag)`` asks it to grade: it checks the tag, compares the snapshot with the live objects, runs
   the decrypted grading code with the genuine builtins and the solution's own import bindings
   (output sent nowhere, the global random generators restored afterwards, so the student's later
   cells are unaffected), compares again, and appends one **signed record** ``(nonce, exercise,
   visible, parts, tampered)`` to ``run/report``.
3. :mod:`.review` (grader side, static): lines of a submission a human should look at.

A record whose signature is wrong is ignored; a request cell that ran without leaving a record
(the hook never reached, the report deleted) scores 0 as ``tampered``.

**Tampering** (an exercise scored 0, ``tampered``): the snapshot holds every function and class of
``builtins``, ``sys``, ``os``, ``json``, ``numpy``, ``coursekit``, ``IPython``, ``ipykernel`` and
``traitlets`` (all their loaded submodules; for Python functions also their code and defaults; for
classes their methods), the modules the solution imports and the checks use (``scipy.stats``,
``torch``, ``tensorflow``, ...), the exercise registry, ``sys.modules`` entries of all of these,
``sys`` hooks (display, except, trace, profile, ``meta_path``, ``path_hooks``, standard streams),
IPython's input transformers, AST transformers, event callbacks, display publisher, display hook
and compiler. Before and after each request the live objects are compared with it: a replaced,
deleted or re-coded one, a hook added from student code, or a thread started from student code
still running marks the exercise ``tampered`` with the names of what changed. The hook also
refuses, and counts as tampering, what student code would need to reach the guard itself:
``gc.get_objects``/``get_referrers``/``get_referents``, ``ctypes``, new audit hooks,
``sys.settrace``/``setprofile``, opening ``/proc/*/mem``, and while a request runs,
``sys._getframe``, ``inspect.stack`` and traceback/generator frames (``tb_frame``, ``gi_frame``).

**Not guaranteed**: CPython cannot isolate code inside one process. Student code that writes the
interpreter's memory (``ctypes.memmove`` on an ``id()``, which Python does not audit, or a compiled
extension it writes and imports), or that patches a library object outside the snapshot and
restores it within one hidden-test statement, can still forge a result. Such code is conspicuous;
the grader notes for review every submission whose own lines use these tools
(:func:`review_notes`).
"""

from .channel import GRADER_FILE, REQUEST, STATUSES, Channel, keystream, new_mac, xor
from .kernel import arm
from .review import REVIEW, review_notes

__all__ = ["Channel", "GRADER_FILE", "REQUEST", "REVIEW", "STATUSES", "arm", "keystream", "new_mac", "review_notes",
           "xor"]
