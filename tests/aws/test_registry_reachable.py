"""A client waits for an MLflow server that is starting (it runs only while held): until its
health check answers, or a clear error after the time allowed. A real HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlrails.adapters.registry import wait_until_reachable
from mlrails.errors import TrackingUnavailable


class Starting(BaseHTTPRequestHandler):
    """MLflow's /health, answering 503 for its first ``unready`` checks (gunicorn starting)."""

    unready = 0
    checks = 0

    def do_GET(self) -> None:
        type(self).checks += 1
        ok = self.path == "/health" and type(self).checks > type(self).unready
        self.send_response(200 if ok else 503)
        self.end_headers()
        self.wfile.write(b"OK" if ok else b"starting")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[Starting]]]:
    handler = type("Handler", (Starting,), {"unready": 2, "checks": 0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()


def test_a_starting_server_is_waited_for(server):
    uri, handler = server
    naps: list[float] = []
    wait_until_reachable(uri, 60, sleep=naps.append)
    assert handler.checks == 3 and len(naps) == 2


def test_a_server_that_never_answers_is_a_clear_error_in_bounded_time(server):
    uri, handler = server
    handler.unready = 10**6
    clock = iter(range(0, 1000, 10))  # each check "takes" 10 s
    with pytest.raises(TrackingUnavailable, match=r"did not answer within 30 s \(HTTP 503\)"):
        wait_until_reachable(uri, 30, sleep=lambda _: None, clock=lambda: next(clock))
    assert handler.checks == 3  # at 10, 20 and 30 s


def test_nothing_listening_is_the_same_clear_error():
    with pytest.raises(TrackingUnavailable, match="is it held"):
        wait_until_reachable("http://127.0.0.1:9", 0, sleep=lambda _: None)
