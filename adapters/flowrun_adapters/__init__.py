"""Storage and driving adapters for flowrun-core."""
