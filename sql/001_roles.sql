-- Roles, created without passwords: the stack sets generated passwords after applying sql/.
--   wikistream_writer  the Flink job: writes the stream tables, nothing else
--   wikistream_reader  dashboards: reads tables and views, writes nothing
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wikistream_writer') THEN
        CREATE ROLE wikistream_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wikistream_reader') THEN
        CREATE ROLE wikistream_reader NOLOGIN;
    END IF;
END
$$;
