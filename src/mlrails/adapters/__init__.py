"""Adapters: the only modules of the shared package that talk to AWS.

Clients are created once per process, lazily, with standard retries. Handlers pass them
(or the adapters built on them) into the pure domain modules.
"""
