"""pytest plugin of the contract kit (being written)."""
