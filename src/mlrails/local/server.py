"""`mlrails serve`: the API's routes on localhost, answered by the real inference handler.

One request at a time, like one Lambda container; each request becomes the API Gateway
event the deployed API would send, so curl and MLflow's own scoring client see the same
answers as in the cloud (less the API key, which API Gateway checks before the function).
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, HTTPServer

from mlrails.local.runtime import LocalRuntime


def make_server(runtime: LocalRuntime, port: int) -> HTTPServer:
    """An HTTP server on 127.0.0.1:``port`` (0 picks a free port) bound to ``runtime``."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            status, content_type, raw = runtime.call(self.command, self.path.split("?")[0], body,
                                                     self.headers.get("Content-Type"))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            runtime.log_path.open("a").write(f"serve: {format % args}\n")

    return HTTPServer(("127.0.0.1", port), Handler)
