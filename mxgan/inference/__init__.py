"""Running a generator outside training: sampling, precise BatchNorm, grids and plots."""
