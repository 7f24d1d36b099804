"""What each `mlrails` command does; `mlrails.cli` parses the arguments and calls them."""
