"""What tests share besides fixtures (which live in the conftest.py files and are never
imported): sample events, paths, test-only constants. On the path through pytest's
``pythonpath = ["tests"]``."""
