"""rareflow: an open simulator of the rare-earth (and gallium) supply chain, ore to magnet."""

__version__ = "0.1.0"
