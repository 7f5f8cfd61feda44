"""Benchmark scripts (speed and optimisation quality); run as modules, e.g. python -m benchmarks.policy_quality."""
