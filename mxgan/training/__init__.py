"""Training: the step, the loop, and the hooks that log, draw, checkpoint, measure and average around it."""
