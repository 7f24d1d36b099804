"""`mlrails init`: a project folder from a data file."""
