"""One concern a module; every construct takes keyword-only props."""
