"""The grader's side of a guarded run, and the protocol both sides share: the names of the
audit events, the cipher of the requests and the signature of the records."""

from __future__ import annotations

import os

REQUEST = "coursekit.grade"
GRADER_FILE = "<coursekit-grader>"
STATUSES = ("passed", "failed", "not attempted", "error")
FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
ALWAYS_DENIED = {
    "gc.get_objects": "called gc.get_objects", "gc.get_referrers": "called gc.get_referrers",
    "gc.get_referents": "called gc.get_referents", "sys.settrace": "installed a trace function",
    "sys.setprofile": "installed a profile function",
}
CTYPES_EVENTS = ("ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.addressof", "ctypes.call_function",
                 "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.create_string_buffer", "ctypes.create_unicode_buffer",
                 "ctypes.get_errno", "ctypes.set_errno", "ctypes.get_last_error", "ctypes.set_last_error",
                 "ctypes.string_at", "ctypes.wstring_at", "ctypes.PyObj_FromPtr")
WATCHED = frozenset({REQUEST, "open", "sys.addaudithook", "sys._getframe", "object.__getattr__",
                     "object.__setattr__", *ALWAYS_DENIED, *CTYPES_EVENTS})
LAZY_PATCHERS = (("torch", "torch._dynamo"),)  # torch._dynamo wraps torch.manual_seed when first imported
FULL_ROOTS = ("builtins", "sys", "os", "posix", "json", "hmac", "numpy", "coursekit", "IPython", "ipykernel",
              "traitlets")


# --------------------------------------------------------------------------- shared: the cipher

def keystream(mac, nonce: bytes, n: int) -> bytes:
    """``n`` bytes of HMAC-SHA256(key, "stream" | nonce | counter) blocks (``mac`` holds the key)."""
    blocks = []
    for i in range((n + 31) // 32):
        m = mac.copy()
        m.update(b"stream:" + nonce + b":" + i.to_bytes(8, "big"))
        blocks.append(m.digest())
    return b"".join(blocks)[:n]


def xor(data: bytes, stream: bytes) -> bytes:
    if not data:
        return b""
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def new_mac(key: bytes):
    """A keyed HMAC-SHA256 object that does not give its key back (OpenSSL's, when available)."""
    try:
        import _hashlib

        return _hashlib.hmac_new(key, digestmod="sha256")
    except (ImportError, AttributeError, ValueError):  # pragma: no cover - Python without OpenSSL
        import hmac

        return hmac.new(key, digestmod="sha256")


def _tag(mac, *parts: bytes) -> str:
    m = mac.copy()
    m.update(b"\x00".join(parts))
    return m.hexdigest()


# --------------------------------------------------------------------------- grader side

class Channel:
    """The grader's side of one guarded run: the key, the requests it signs, the records it trusts."""

    def __init__(self, run_dir):
        import secrets

        self.run_dir = str(run_dir)
        self._key = secrets.token_bytes(32)
        self._mac = new_mac(self._key)
        self.nonces: dict[str, str] = {}  # nonce -> exercise

    def write_key(self) -> None:
        path = os.path.join(self.run_dir, "key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self._key)

    def arm_source(self, config: dict) -> str:
        import json

        return (f"__import__('coursekit.grading.guard', fromlist=['arm']).arm({self.run_dir!r}, "
                f"{json.dumps(config, sort_keys=True)!r})\n")

    def request_source(self, exercise: str, code: str) -> str:
        """The cell that asks the guard to grade ``exercise`` with ``code`` (encrypted, signed)."""
        import base64
        import secrets

        nonce = secrets.token_hex(12)
        self.nonces[nonce] = exercise
        plain = f"{exercise}\n{code}".encode("utf-8")
        cipher = base64.b64encode(xor(plain, keystream(self._mac, nonce.encode(), len(plain)))).decode()
        tag = _tag(self._mac, b"request", nonce.encode(), cipher.encode())
        return f"__import__('sys').audit({REQUEST!r}, {nonce!r}, {cipher!r}, {tag!r})\n"

    def read(self) -> tuple[dict[str, dict], int]:
        """({exercise: record} of the first valid record per request, number of lines that were
        not the guard's)."""
        import ast

        records: dict[str, dict] = {}
        forged = 0
        try:
            raw = open(os.path.join(self.run_dir, "report"), "rb").read()
        except OSError:
            return records, 0
        for line in raw.split(b"\n"):
            if not line:
                continue
            body, _, sig = line.rpartition(b"\t")
            if not body or _tag(self._mac, b"record", body) != sig.decode("ascii", "replace"):
                forged += 1
                continue
            try:
                nonce, exercise, visible, pieces, tampered = ast.literal_eval(body.decode("utf-8"))
            except (ValueError, SyntaxError, UnicodeDecodeError):
                forged += 1
                continue
            if self.nonces.get(nonce) != exercise or exercise in records:
                continue  # a replayed request: the first record counts
            records[exercise] = {"exercise": exercise, "visible": visible, "pieces": dict(pieces),
                                 "tampered": list(tampered)}
        return records, forged
