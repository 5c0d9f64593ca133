"""The contract kit (being written)."""
