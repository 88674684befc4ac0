"""OrderOps: an exception desk for e-commerce orders."""

__version__ = "0.1.0"
