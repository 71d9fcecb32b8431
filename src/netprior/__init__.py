"""netprior: image restoration and synthesis by inverting deep networks."""

__version__ = "0.1.0"
