"""Process and machine: thread settings before MXNet loads, devices, CUDA libraries, atomic files, kvstore processes."""
