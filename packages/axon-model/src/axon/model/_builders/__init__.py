"""Layer builders, one module per family, and the helpers they share."""
