"""The unit tier's own rule (tests/unit/conftest.py): no network."""

import socket

import pytest
from pytest_socket import SocketBlockedError


@pytest.mark.filterwarnings("ignore:A test tried to use socket")  # pytest-socket warns as it refuses
def test_the_unit_tier_cannot_open_a_network_socket():
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
