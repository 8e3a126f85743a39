"""The version of autorec (its own module, so nothing needs the package root for it)."""

__version__ = "0.1.0"
