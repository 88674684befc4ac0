"""CLI command groups, one module each; `orderops.cli` registers them."""
