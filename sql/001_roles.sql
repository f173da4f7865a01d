-- One role per component, created without passwords: the stack sets generated passwords after
-- applying sql/. None is a superuser, none may create objects; the admin (the cluster's owner) alone
-- changes the schema.
--   wikistream_seeder  the producer: seeds and reads users, nothing else
--   wikistream_writer  the Flink job and its keeper: writes the stream tables, reads users
--   wikistream_reader  dashboards: reads the views only (not users, raw clicks or rejected payloads)
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['wikistream_seeder', 'wikistream_writer', 'wikistream_reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
        END IF;
    END LOOP;
END
$$;
-- A stuck dashboard query or a lock wait ends instead of holding connections for ever; the writer's
-- sink retries what a timeout cancels. Idle transactions cannot pin old row versions.
ALTER ROLE wikistream_reader SET statement_timeout = '30s';
ALTER ROLE wikistream_seeder SET statement_timeout = '120s';
ALTER ROLE wikistream_writer SET statement_timeout = '120s';
ALTER ROLE wikistream_reader SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE wikistream_seeder SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE wikistream_writer SET idle_in_transaction_session_timeout = '60s';
