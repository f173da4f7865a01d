"""`make bench`: throughput, latency, memory and cold start of the embedded stack, against a baseline."""
