"""`mlrails serve`: the API's routes on localhost, answered by the real inference handler.

One request at a time, like one Lambda container; each request becomes the API Gateway
event the deployed API would send, so curl and MLflow's own scoring client see the same
answers as in the cloud (less the API key, which API Gateway checks before the function).
``POST /feedback`` arrives as through the feedback API with its own key, every other route
as through the scoring API (:func:`mlrails.local.runtime.api_for`), the request context
saying so as API Gateway's does.
It answers in wall-clock time, so the function re-checks the manifest at the deployed TTL,
not on every request as under the runtime's virtual clock.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, HTTPServer

from mlrails.local.runtime import LocalRuntime


def make_server(runtime: LocalRuntime, port: int) -> HTTPServer:
    """An HTTP server on 127.0.0.1:``port`` (0 picks a free port) bound to ``runtime``."""
    runtime.cloud.virtual_time = False
    log = runtime.router.invoker.log

    class Handler(BaseHTTPRequestHandler):
        # Headers and body go out in two writes: with Nagle's algorithm on, the body would wait
        # for the client's delayed ACK of the headers (tens of milliseconds on loopback).
        disable_nagle_algorithm = True

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            status, content_type, raw = runtime.call(
                self.command, self.path.split("?")[0], body, self.headers.get("Content-Type")
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            log.write(f"serve: {format % args}\n")

    return HTTPServer(("127.0.0.1", port), Handler)
