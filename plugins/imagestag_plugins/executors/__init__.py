"""Built-in imagestag plugins."""
