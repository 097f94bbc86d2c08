"""A tiny HTTP server on 127.0.0.1 for download and image tests (never the real network).

``Server(routes, modes)`` serves ``routes`` {path: bytes}; ``modes`` {path: mode} makes a path
misbehave:

- ``"truncate"``: a full Content-Length but only half the body, then the connection closes;
- ``"corrupt"``: the right length with some bytes flipped (only a checksum catches it);
- ``"stall"``: headers and half the body, then silence for ``stall`` seconds (or until the server
  stops);
- ``"trickle"``: headers, then one byte every 50 ms, forever (until the server stops);
- ``"close"``: HTTP/1.0 style, no Content-Length, half the body and close (only a checksum
  catches it);
- ``"chunked-cut"``: chunked encoding, half the body, then close without the last chunk;
- ``"slow"``: wait 2 s before answering;
- a number such as ``"404"`` or ``"500"``: answer with that status and no body.

A path missing from ``routes`` answers 404. ``hits`` counts requests per path.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server:
    def __init__(self, routes: dict[str, bytes], modes: dict[str, str] | None = None, *,
                 stall: float = 5.0):
        self.routes, self.modes, self.hits, self.stall = routes, modes or {}, {}, stall
        self.stopping = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def head(self, status=200, **headers):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key.replace("_", "-"), str(value))
                self.end_headers()

            def do_GET(self):
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                mode = outer.modes.get(self.path, "")
                body = outer.routes.get(self.path)
                try:
                    self.answer(mode, body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up first
                    pass

            def answer(self, mode, body):
                if mode.isdigit():
                    return self.head(int(mode))
                if body is None:
                    return self.head(404)
                half = body[: len(body) // 2]
                if mode == "slow" and outer.stopping.wait(2.0):
                    return
                if mode == "close":  # HTTP/1.0: the end of the connection ends the body
                    self.head(200)
                    self.wfile.write(half)
                elif mode == "chunked-cut":
                    self.head(200, Transfer_Encoding="chunked")
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
                elif mode == "trickle":
                    self.head(200, Content_Length=len(body))
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        if outer.stopping.wait(0.05):
                            return
                else:
                    self.head(200, Content_Length=len(body))
                    if mode == "corrupt":
                        flipped = bytearray(body)
                        for i in range(0, len(flipped), max(1, len(flipped) // 7)):
                            flipped[i] ^= 0xFF
                        self.wfile.write(bytes(flipped))
                    elif mode in ("truncate", "stall"):
                        self.wfile.write(half)
                        self.wfile.flush()
                        if mode == "stall":
                            outer.stopping.wait(outer.stall)
                    else:
                        self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()  # wakes stalled and trickling answers
        self.httpd.shutdown()
        self.httpd.server_close()
