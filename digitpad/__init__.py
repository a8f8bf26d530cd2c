"""digitpad: draw a digit, watch a neural network read it, train it on MNIST."""

__version__ = "0.1.0"
