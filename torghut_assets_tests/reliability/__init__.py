"""Fault-injection suite (issue 11): crashes, database loss, concurrency, fuzzed and hostile input."""
