"""The unit tier runs offline: a test here that opens a network socket fails (pytest-socket),
so a pure module that starts calling AWS or MLflow is caught here, not in production."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _offline() -> Iterator[None]:
    # Unix sockets stay allowed: the interpreter's own machinery (and xdist) may use them.
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
