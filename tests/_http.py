"""A tiny HTTP server on 127.0.0.1 for download and image tests (never the real network)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server:
    """Serves ``routes`` {path: bytes}; ``modes`` {path: "truncate" | "500" | "slow"}."""

    def __init__(self, routes: dict[str, bytes], modes: dict[str, str] | None = None):
        self.routes, self.modes, self.hits = routes, modes or {}, {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                mode = outer.modes.get(self.path)
                body = outer.routes.get(self.path)
                if mode == "500":
                    self.send_response(500)
                    self.end_headers()
                    return
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if mode == "slow":
                    import time

                    time.sleep(2.0)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mode == "truncate" else body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
