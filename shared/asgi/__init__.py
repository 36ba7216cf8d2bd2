"""Pieces every ASGI port shares: what a server must add to the contract, and how it streams."""
