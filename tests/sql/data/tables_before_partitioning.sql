-- The tables and indexes of sql/ before partitioning and session merging (git 3404a2f):
-- tests/sql/test_retention.py upgrades a database made with them, rows in it, to today's schema.

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

CREATE TABLE IF NOT EXISTS clicks (
    event_id         text PRIMARY KEY,
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
    ingested_at      timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS rejected_events (
    kafka_partition  integer NOT NULL,
    kafka_offset     bigint NOT NULL,
    reason           text NOT NULL,
    raw_payload      bytea,
    received_at      timestamptz NOT NULL,
    PRIMARY KEY (kafka_partition, kafka_offset)
);
DO $$
BEGIN
    IF (SELECT data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'rejected_events' AND column_name = 'raw_payload') = 'text' THEN
        ALTER TABLE rejected_events ALTER COLUMN raw_payload TYPE bytea USING convert_to(raw_payload, 'UTF8');
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS refused_rows (
    table_name  text NOT NULL,
    row_key     text NOT NULL,
    row_data    text NOT NULL,
    reason      text NOT NULL,
    refused_at  timestamptz NOT NULL,
    PRIMARY KEY (table_name, row_key)
);

CREATE TABLE IF NOT EXISTS late_events (
    event_id         text PRIMARY KEY,
    event_time       timestamptz NOT NULL,
    watermark        timestamptz,
    received_at      timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS clicks_per_minute_article (
    window_start  timestamptz NOT NULL,
    article       text NOT NULL,
    clicks        bigint NOT NULL,
    PRIMARY KEY (window_start, article)
);

CREATE TABLE IF NOT EXISTS clicks_per_minute_referrer (
    window_start    timestamptz NOT NULL,
    referrer_class  text NOT NULL,
    clicks          bigint NOT NULL,
    PRIMARY KEY (window_start, referrer_class)
);

CREATE TABLE IF NOT EXISTS clicks_per_minute_country (
    window_start  timestamptz NOT NULL,
    country       text NOT NULL,
    clicks        bigint NOT NULL,
    PRIMARY KEY (window_start, country)
);

CREATE TABLE IF NOT EXISTS session_stats (
    session_id     text PRIMARY KEY,
    user_id        text NOT NULL,
    pages          bigint NOT NULL,
    first_event    timestamptz NOT NULL,
    last_event     timestamptz NOT NULL,
    duration_s     double precision NOT NULL
);

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
    quarantined_rows   bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS clicks_event_time_idx ON clicks (event_time DESC);
CREATE INDEX IF NOT EXISTS clicks_user_idx ON clicks (user_id);
CREATE INDEX IF NOT EXISTS rejected_received_idx ON rejected_events (received_at DESC);
CREATE INDEX IF NOT EXISTS cpm_article_time_idx ON clicks_per_minute_article (window_start DESC, clicks DESC);
CREATE INDEX IF NOT EXISTS session_stats_last_idx ON session_stats (last_event DESC);
