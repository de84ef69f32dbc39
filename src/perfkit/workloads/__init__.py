"""One module per workload, holding its spec and all of its ports."""
