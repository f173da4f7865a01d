"""The embedded stack: Kafka, Flink and PostgreSQL as local processes under one state directory."""
