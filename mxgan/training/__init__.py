"""Training: the step, the loop, and the hooks that log, draw, checkpoint, judge and average around it."""
