"""Shared settings for every wikistream component (producer, Flink job, embedded stack)."""
