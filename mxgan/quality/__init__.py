"""What a generator learned: the MNIST classifier and the metrics built on its features."""
