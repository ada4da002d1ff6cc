"""Benchmark code behind bench/*.py, with its yardsticks (PyTorch's DCGAN, the example's step)."""
