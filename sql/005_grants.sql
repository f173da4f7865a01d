-- Privileges, least first: PUBLIC keeps nothing on the database or the schema, each role gets what
-- its component uses. Re-granting is a no-op.
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO wikistream_seeder, wikistream_writer, wikistream_reader',
                   current_database());
END
$$;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO wikistream_seeder, wikistream_writer, wikistream_reader;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, wikistream_seeder, wikistream_writer, wikistream_reader;

-- Seeding upserts users (INSERT ... ON CONFLICT DO UPDATE needs SELECT and UPDATE too).
GRANT SELECT, INSERT, UPDATE ON users TO wikistream_seeder;

GRANT SELECT ON users TO wikistream_writer;
GRANT SELECT, INSERT, UPDATE ON clicks, rejected_events, refused_rows, late_events,
    clicks_per_minute_article, clicks_per_minute_referrer, clicks_per_minute_country,
    session_stats TO wikistream_writer;
-- The job keeper records health as the writer and keeps a day of it.
GRANT SELECT, INSERT, DELETE ON pipeline_health TO wikistream_writer;
GRANT SELECT, INSERT, UPDATE ON skipped_offsets TO wikistream_writer;

-- Views run with their owner's rights, so the reader sees what the dashboards show and no more:
-- every view of the schema, and nothing else.
DO $$
DECLARE
    view_name name;
BEGIN
    FOR view_name IN SELECT viewname FROM pg_views WHERE schemaname = 'public' LOOP
        EXECUTE format('GRANT SELECT ON %I TO wikistream_reader', view_name);
    END LOOP;
END
$$;
