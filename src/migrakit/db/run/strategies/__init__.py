"""The run strategies: one way each of sending migrations to the server (the protocol: core/strategy.py)."""
