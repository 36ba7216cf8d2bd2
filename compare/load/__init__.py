"""Load engines: what sends a round's simultaneous requests (compare/load/base.py)."""
