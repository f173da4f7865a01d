-- Retention: how long each stream table keeps its rows, and the maintenance that keeps it so.
--
-- Each stream table belongs to a retention class; how many days a class keeps is a setting
-- (RETENTION_*_DAYS in config/stack.env), which wikistream/schema.py writes into retention_classes
-- after applying these files. The job keeper of either stack calls maintain_stream_table(name) for
-- every table every MAINTENANCE_INTERVAL_S (wikistream/retention.py), one table per transaction, so
-- a lock taken for one table is never held while another is maintained.
--
-- Partitioned tables (002_tables.sql) are kept by whole days (UTC): the partitions of today and
-- PARTITION_DAYS_AHEAD days ahead exist before any row needs them, a day is dropped once all of it
-- is older than the retention, and rows that reached the DEFAULT partition (a day not created, the
-- maintenance stopped for a while) are moved into their day, or deleted when already expired.
-- session_stats and refused_rows are not partitioned: their expired rows are deleted.

CREATE TABLE IF NOT EXISTS retention_classes (
    retention_class  text PRIMARY KEY,
    keep             interval NOT NULL CHECK (keep >= interval '1 day')
);

CREATE TABLE IF NOT EXISTS stream_retention (
    table_name       text PRIMARY KEY,
    time_column      text NOT NULL,
    partitioned      boolean NOT NULL,
    retention_class  text NOT NULL
);
INSERT INTO stream_retention (table_name, time_column, partitioned, retention_class) VALUES
    ('clicks', 'event_time', true, 'raw'),
    ('rejected_events', 'received_at', true, 'raw'),
    ('late_events', 'event_time', true, 'raw'),
    ('refused_rows', 'refused_at', false, 'raw'),
    ('clicks_per_minute_article', 'window_start', true, 'aggregate'),
    ('clicks_per_minute_referrer', 'window_start', true, 'aggregate'),
    ('clicks_per_minute_country', 'window_start', true, 'aggregate'),
    ('session_stats', 'last_event', false, 'aggregate')
ON CONFLICT (table_name) DO UPDATE SET time_column = EXCLUDED.time_column, partitioned = EXCLUDED.partitioned,
    retention_class = EXCLUDED.retention_class;

CREATE INDEX IF NOT EXISTS refused_rows_refused_at_idx ON refused_rows (refused_at);

-- The day partition of a table holding `day` (UTC), created unless it exists. Rows of that day that
-- wait in the DEFAULT partition move into it in the same transaction; the DEFAULT partition is
-- locked against inserts meanwhile, so none can slip in between the move and the attach.
CREATE OR REPLACE FUNCTION stream_partition_ensure(parent text, time_column text, day date)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    part text := parent || '_p' || to_char(day, 'YYYYMMDD');
    lower_bound timestamptz := day::timestamp AT TIME ZONE 'UTC';
    upper_bound timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
    moved bigint;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN -1;
    END IF;
    EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', parent || '_default');
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *)'
                   ' INSERT INTO %I SELECT * FROM moved', parent || '_default', time_column, time_column, part)
        USING lower_bound, upper_bound;
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   parent, part, lower_bound, upper_bound);
    RETURN moved;
END
$$;

-- The first day a table keeps at time `at`: a day is dropped once all of it is older than the retention.
CREATE OR REPLACE FUNCTION stream_retention_first_day(stream_table text, at timestamptz)
RETURNS date
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    keep interval;
BEGIN
    SELECT c.keep INTO keep FROM stream_retention s JOIN retention_classes c USING (retention_class)
    WHERE s.table_name = stream_table;
    IF keep IS NULL THEN
        RAISE EXCEPTION 'no retention for table %: stream_retention and retention_classes must name it', stream_table;
    END IF;
    RETURN ((at - keep) AT TIME ZONE 'UTC')::date;
END
$$;

-- One table's retention at time `at` (the job keeper passes now(); a time-lapse test passes the
-- time it plays). Returns what it did: created (rows moved in from DEFAULT), dropped, deleted.
CREATE OR REPLACE FUNCTION maintain_stream_table_at(stream_table text, at timestamptz)
RETURNS TABLE (action text, relation text, row_count bigint)
LANGUAGE plpgsql
SET search_path = public, pg_temp
-- A dashboard query holding the table must not let a waiting DROP queue every insert behind it
-- for long: give up after a few seconds, the next run tries again.
SET lock_timeout = '5s'
AS $$
DECLARE
    -- How many days ahead of `at` partitions exist: events may lead the broker's clock by minutes
    -- (flink_job/validation.py), and the maintenance may be stopped for a while.
    days_ahead constant integer := 2;
    first_day date := stream_retention_first_day(stream_table, at);
    cutoff timestamptz := first_day::timestamp AT TIME ZONE 'UTC';
    spec record;
    day date;
    part record;
    n bigint;
BEGIN
    SELECT s.time_column, s.partitioned INTO spec FROM stream_retention s WHERE s.table_name = stream_table;
    IF NOT spec.partitioned THEN
        EXECUTE format('DELETE FROM %I WHERE %I < $1', stream_table, spec.time_column) USING cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            RETURN QUERY SELECT 'deleted'::text, stream_table, n;
        END IF;
        RETURN;
    END IF;

    EXECUTE format('DELETE FROM %I WHERE %I < $1', stream_table || '_default', spec.time_column) USING cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RETURN QUERY SELECT 'deleted'::text, stream_table || '_default', n;
    END IF;

    -- Today and the days ahead, and every retained day with rows waiting in DEFAULT.
    FOR day IN EXECUTE format(
        'SELECT d::date FROM generate_series($1::timestamp, $1::timestamp + $2 * interval ''1 day'','
        ' interval ''1 day'') AS d UNION SELECT DISTINCT (%I AT TIME ZONE ''UTC'')::date FROM %I ORDER BY 1',
        spec.time_column, stream_table || '_default') USING (at AT TIME ZONE 'UTC')::date, days_ahead
    LOOP
        n := stream_partition_ensure(stream_table, spec.time_column, day);
        IF n >= 0 THEN
            RETURN QUERY SELECT 'created'::text, stream_table || '_p' || to_char(day, 'YYYYMMDD'), n;
        END IF;
    END LOOP;

    FOR part IN
        SELECT c.relname::text AS relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = to_regclass(stream_table) AND c.relname ~ ('^' || stream_table || '_p[0-9]{8}$')
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < first_day
        ORDER BY 1
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        RETURN QUERY SELECT 'dropped'::text, part.relname, NULL::bigint;
    END LOOP;
END
$$;

-- What the job keeper calls, as the writer: now, never another time (the writer cannot expire data
-- early by passing a time ahead). It runs with the owner's rights, since only the owner may create
-- and drop partitions, and only on the tables stream_retention names.
CREATE OR REPLACE FUNCTION maintain_stream_table(stream_table text)
RETURNS TABLE (action text, relation text, row_count bigint)
LANGUAGE sql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$ SELECT * FROM maintain_stream_table_at(stream_table, now()) $$;

-- A database from before partitioning (002_tables.sql set its plain table aside as
-- <table>_unpartitioned): its retained rows move into the partitioned table, into their days,
-- and the plain table is dropped. Returns the rows moved (NULL: nothing to adopt).
CREATE OR REPLACE FUNCTION adopt_unpartitioned(stream_table text, at timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = public, pg_temp
AS $$
DECLARE
    old text := stream_table || '_unpartitioned';
    cutoff timestamptz := stream_retention_first_day(stream_table, at)::timestamp AT TIME ZONE 'UTC';
    time_column text;
    columns text;
    day date;
    n bigint;
BEGIN
    IF to_regclass(old) IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT s.time_column INTO time_column FROM stream_retention s WHERE s.table_name = stream_table;
    FOR day IN EXECUTE format('SELECT DISTINCT (%I AT TIME ZONE ''UTC'')::date FROM %I WHERE %I >= $1',
                              time_column, old, time_column) USING cutoff
    LOOP
        PERFORM stream_partition_ensure(stream_table, time_column, day);
    END LOOP;
    SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) INTO columns
    FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = stream_table;
    EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM %I WHERE %I >= $1', stream_table, columns, columns, old,
                   time_column) USING cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXECUTE format('DROP TABLE %I', old);
    RETURN n;
END
$$;

-- Functions are executable by PUBLIC by default: only the keeper's entry point is granted, to the writer.
REVOKE ALL ON FUNCTION stream_partition_ensure(text, text, date), stream_retention_first_day(text, timestamptz),
    maintain_stream_table_at(text, timestamptz), maintain_stream_table(text), adopt_unpartitioned(text, timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION maintain_stream_table(text) TO wikistream_writer;
GRANT SELECT ON stream_retention, retention_classes TO wikistream_writer;
