"""Benchmarks: each workload times the project against a baseline measured in the same run."""
