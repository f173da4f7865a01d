"""The PyFlink job: Kafka `clicks` topic in, PostgreSQL stream tables out (all SQL, on the JVM)."""
