"""End-to-end fixtures."""

import os

import pytest

from mlrails.adapters import deployed


@pytest.fixture
def restore_environ():
    """The local runtime sets each function's environment as it invokes it, and the handlers
    cache their settings: put both back after the test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    deployed.reset()
