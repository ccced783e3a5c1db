"""One module per CLI command group; each defines `register(app)` and is found by monitor.cli."""
