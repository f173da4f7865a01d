-- Tables. Every stream table has a primary key so that a Flink replay overwrites instead of adding.
-- Stream tables carry no foreign key to users: a click from a user we have not seeded must still
-- land (it is enriched as country 'unknown'), never block the sink.
--
-- Storage stays bounded (sql/006_retention.sql): the stream tables that only grow are partitioned by
-- day of a time that a replay cannot change (the event time, the window, the time Kafka received the
-- message), so retention drops whole partitions instead of deleting rows. The partition column is
-- part of each primary key, as PostgreSQL requires. Each has a DEFAULT partition, so a row never
-- fails for want of a partition (a day not created yet, or one already expired): the maintenance
-- moves such rows into their day, or deletes them once expired.

-- Databases made before the payload was bytea: convert in place (the text was UTF-8), before the
-- table is partitioned below.
DO $$
BEGIN
    IF (SELECT data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'rejected_events' AND column_name = 'raw_payload') = 'text' THEN
        ALTER TABLE rejected_events ALTER COLUMN raw_payload TYPE bytea USING convert_to(raw_payload, 'UTF8');
    END IF;
END
$$;

-- Databases made before partitioning: the plain table steps aside (keeping its rows), the
-- partitioned one is created below, and sql/006_retention.sql moves the rows over and drops it.
DO $$
DECLARE
    name text;
    index_name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['clicks', 'rejected_events', 'late_events',
                                'clicks_per_minute_article', 'clicks_per_minute_referrer', 'clicks_per_minute_country'] LOOP
        IF EXISTS (SELECT FROM pg_class WHERE relname = name AND relkind = 'r'
                   AND relnamespace = current_schema()::regnamespace) THEN
            EXECUTE format('ALTER TABLE %I RENAME TO %I', name, name || '_unpartitioned');
            -- Its constraint and index names would collide with those of the new table.
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS %I', name || '_unpartitioned', name || '_pkey');
            FOR index_name IN SELECT indexname FROM pg_indexes
                              WHERE schemaname = current_schema() AND tablename = name || '_unpartitioned' LOOP
                EXECUTE format('DROP INDEX %I', index_name);
            END LOOP;
        END IF;
    END LOOP;
END
$$;

CREATE TABLE IF NOT EXISTS users (
    user_id       text PRIMARY KEY,
    username      text NOT NULL,
    first_name    text NOT NULL,
    last_name     text NOT NULL,
    gender        text NOT NULL,
    email         text NOT NULL,
    country       text NOT NULL,
    nat           text NOT NULL,
    age           integer NOT NULL CHECK (age >= 0),
    registered_at timestamptz NOT NULL,
    activity      double precision NOT NULL CHECK (activity > 0),
    source        text NOT NULL CHECK (source IN ('randomuser-api', 'offline-synthetic')),
    loaded_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per valid click event, written only by the Flink job (upsert on event_id).
CREATE TABLE IF NOT EXISTS clicks (
    event_id         text NOT NULL,
    user_id          text NOT NULL,
    session_id       text NOT NULL,
    seq              integer NOT NULL CHECK (seq >= 1),
    prev             text NOT NULL,
    curr             text NOT NULL,
    link_type        text NOT NULL CHECK (link_type IN ('link', 'external', 'other')),
    referrer_class   text NOT NULL,
    event_time       timestamptz NOT NULL,
    kafka_partition  integer NOT NULL,
    kafka_offset     bigint NOT NULL,
    ingested_at      timestamptz NOT NULL,
    PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);
CREATE TABLE IF NOT EXISTS clicks_default PARTITION OF clicks DEFAULT;

-- Messages the job could not accept, with the reason and where in Kafka they were. The payload is
-- kept as the bytes Kafka held (bytea): text cannot hold every message (NUL, invalid UTF-8, binary).
-- A valid click that PostgreSQL itself refused lands here too, with a reason starting "refused by
-- PostgreSQL", so every Kafka offset is in exactly one of clicks and rejected_events (ticks aside:
-- producer heartbeats that only move event time, flink_job/pipeline.py). received_at is when Kafka
-- received the message (the broker stamps it), so a replay rewrites the same row of the same day.
CREATE TABLE IF NOT EXISTS rejected_events (
    kafka_partition  integer NOT NULL,
    kafka_offset     bigint NOT NULL,
    reason           text NOT NULL,
    raw_payload      bytea,
    received_at      timestamptz NOT NULL,
    PRIMARY KEY (kafka_partition, kafka_offset, received_at)
) PARTITION BY RANGE (received_at);
CREATE TABLE IF NOT EXISTS rejected_events_default PARTITION OF rejected_events DEFAULT;

-- Rows of the other stream tables that PostgreSQL refused (the job's validation should make this
-- empty): the table, the row's key and values as JSON (ASCII, escaped), and the database's reason.
CREATE TABLE IF NOT EXISTS refused_rows (
    table_name  text NOT NULL,
    row_key     text NOT NULL,
    row_data    text NOT NULL,
    reason      text NOT NULL,
    refused_at  timestamptz NOT NULL,
    PRIMARY KEY (table_name, row_key)
);

-- Valid clicks that arrived behind the watermark: in clicks, but too late for the minute aggregates.
-- The job sends a click to exactly one of the two: late_events or its minute windows.
CREATE TABLE IF NOT EXISTS late_events (
    event_id         text NOT NULL,
    event_time       timestamptz NOT NULL,
    watermark        timestamptz,
    received_at      timestamptz NOT NULL,
    PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);
CREATE TABLE IF NOT EXISTS late_events_default PARTITION OF late_events DEFAULT;

CREATE TABLE IF NOT EXISTS clicks_per_minute_article (
    window_start  timestamptz NOT NULL,
    article       text NOT NULL,
    clicks        bigint NOT NULL,
    PRIMARY KEY (window_start, article)
) PARTITION BY RANGE (window_start);
CREATE TABLE IF NOT EXISTS clicks_per_minute_article_default PARTITION OF clicks_per_minute_article DEFAULT;

CREATE TABLE IF NOT EXISTS clicks_per_minute_referrer (
    window_start    timestamptz NOT NULL,
    referrer_class  text NOT NULL,
    clicks          bigint NOT NULL,
    PRIMARY KEY (window_start, referrer_class)
) PARTITION BY RANGE (window_start);
CREATE TABLE IF NOT EXISTS clicks_per_minute_referrer_default PARTITION OF clicks_per_minute_referrer DEFAULT;

CREATE TABLE IF NOT EXISTS clicks_per_minute_country (
    window_start  timestamptz NOT NULL,
    country       text NOT NULL,
    clicks        bigint NOT NULL,
    PRIMARY KEY (window_start, country)
) PARTITION BY RANGE (window_start);
CREATE TABLE IF NOT EXISTS clicks_per_minute_country_default PARTITION OF clicks_per_minute_country DEFAULT;

-- Live per-session statistics. A session is the producer's session_id, however long its gaps. The
-- job writes what it knows of a session and the write merges with the row (flink_job/pipeline.py):
-- the union of the page numbers seen (seqs), the earliest first and latest last click. So a session
-- the job forgot (its state expired during a stop or a suspend, or was lost) is never reset by
-- its next click, and a replay changes nothing. Not partitioned: a partition column must be part of
-- the key and never change, and a session's times move as its clicks arrive; the maintenance
-- deletes the sessions whose last click is past their retention instead.
CREATE TABLE IF NOT EXISTS session_stats (
    session_id     text PRIMARY KEY,
    user_id        text NOT NULL,
    pages          bigint NOT NULL,
    first_event    timestamptz NOT NULL,
    last_event     timestamptz NOT NULL,
    duration_s     double precision NOT NULL,
    seqs           integer[] NOT NULL
);
-- Databases made before sessions merged: their pages were counted from 1, so 1..pages stands in.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = current_schema()
                   AND table_name = 'session_stats' AND column_name = 'seqs') THEN
        ALTER TABLE session_stats ADD COLUMN seqs integer[];
        UPDATE session_stats SET seqs = ARRAY(SELECT generate_series(1, pages)::integer);
        ALTER TABLE session_stats ALTER COLUMN seqs SET NOT NULL;
    END IF;
END
$$;

-- The pipeline's health as the job keeper observes it every few seconds (wikistream/health.py):
-- whether data flows, not only whether a job says RUNNING. Rows older than a day are deleted.
CREATE TABLE IF NOT EXISTS pipeline_health (
    observed_at        timestamptz PRIMARY KEY,
    degraded           boolean NOT NULL,
    reasons            text[] NOT NULL,
    job_id             text,
    job_state          text NOT NULL,
    tasks_running      integer NOT NULL,
    tasks_total        integer NOT NULL,
    restarts_10m       integer NOT NULL,
    resubmissions_10m  integer NOT NULL,
    last_exception     text,
    checkpoint_age_s   double precision,
    lag_total          bigint NOT NULL,
    lag                jsonb NOT NULL,
    newest_click_age_s double precision,
    sink_retrying      integer NOT NULL,
    quarantined_rows   bigint NOT NULL,
    newest_message_age_s double precision,
    rejected_share     double precision,
    skipped_recently   bigint,
    free_disk_mb       double precision
);
-- Databases made before these figures were recorded.
ALTER TABLE pipeline_health ADD COLUMN IF NOT EXISTS newest_message_age_s double precision;
ALTER TABLE pipeline_health ADD COLUMN IF NOT EXISTS rejected_share double precision;
ALTER TABLE pipeline_health ADD COLUMN IF NOT EXISTS skipped_recently bigint;
ALTER TABLE pipeline_health ADD COLUMN IF NOT EXISTS free_disk_mb double precision;

-- Messages that expired from Kafka before the job read them (its position fell past the topic's
-- retention: the job goes on from the oldest message Kafka still has). The keeper records each gap
-- it sees, so a skip is counted and kept, never silent.
CREATE TABLE IF NOT EXISTS skipped_offsets (
    kafka_partition  integer NOT NULL,
    first_offset     bigint NOT NULL,
    last_offset      bigint NOT NULL,
    detected_at      timestamptz NOT NULL,
    PRIMARY KEY (kafka_partition, first_offset)
);
