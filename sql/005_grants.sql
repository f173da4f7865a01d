-- Privileges. The writer may write only the stream tables (and read users for enrichment);
-- the reader may only read. Re-granting is a no-op.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO wikistream_writer, wikistream_reader', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO wikistream_writer, wikistream_reader;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT SELECT ON users TO wikistream_writer;
GRANT SELECT, INSERT, UPDATE ON clicks, rejected_events, refused_rows, late_events,
    clicks_per_minute_article, clicks_per_minute_referrer, clicks_per_minute_country,
    session_stats TO wikistream_writer;
-- The job keeper records health as the writer and keeps a day of it.
GRANT SELECT, INSERT, DELETE ON pipeline_health TO wikistream_writer;

GRANT SELECT ON ALL TABLES IN SCHEMA public TO wikistream_reader;
