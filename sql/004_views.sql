-- Views the dashboards read. CREATE OR REPLACE keeps re-application idempotent.

CREATE OR REPLACE VIEW v_clicks_per_minute AS
SELECT window_start, sum(clicks)::bigint AS clicks
FROM clicks_per_minute_article
GROUP BY window_start;

CREATE OR REPLACE VIEW v_top_articles_5m AS
SELECT article, sum(clicks)::bigint AS clicks
FROM clicks_per_minute_article
WHERE window_start >= now() - interval '5 minutes'
GROUP BY article
ORDER BY clicks DESC, article
LIMIT 20;

CREATE OR REPLACE VIEW v_top_articles_60m AS
SELECT article, sum(clicks)::bigint AS clicks
FROM clicks_per_minute_article
WHERE window_start >= now() - interval '60 minutes'
GROUP BY article
ORDER BY clicks DESC, article
LIMIT 20;

CREATE OR REPLACE VIEW v_referrer_share AS
SELECT referrer_class, sum(clicks)::bigint AS clicks
FROM clicks_per_minute_referrer
WHERE window_start >= now() - interval '60 minutes'
GROUP BY referrer_class;

CREATE OR REPLACE VIEW v_clicks_by_country AS
SELECT country, sum(clicks)::bigint AS clicks
FROM clicks_per_minute_country
WHERE window_start >= now() - interval '60 minutes'
GROUP BY country;

CREATE OR REPLACE VIEW v_latest_clicks AS
SELECT event_time, user_id, session_id, seq, prev, curr, link_type
FROM clicks
ORDER BY event_time DESC
LIMIT 50;

CREATE OR REPLACE VIEW v_pipeline_freshness AS
SELECT max(event_time) AS newest_event,
       EXTRACT(EPOCH FROM now() - max(event_time))::double precision AS lag_seconds
FROM clicks;

CREATE OR REPLACE VIEW v_rejected_counts AS
SELECT reason, count(*)::bigint AS events, max(received_at) AS last_seen
FROM rejected_events
GROUP BY reason;

CREATE OR REPLACE VIEW v_session_summary AS
SELECT count(*)::bigint AS sessions,
       avg(pages)::double precision AS avg_pages,
       avg(duration_s)::double precision AS avg_duration_s
FROM session_stats
WHERE last_event >= now() - interval '60 minutes';

-- The newest health observation, with how old it is: a keeper that stopped observing shows as stale.
CREATE OR REPLACE VIEW v_pipeline_health AS
SELECT observed_at,
       EXTRACT(EPOCH FROM now() - observed_at)::double precision AS observed_seconds_ago,
       CASE WHEN now() - observed_at > interval '1 minute' THEN 'UNKNOWN (no recent observation)'
            WHEN degraded THEN 'DEGRADED' ELSE 'HEALTHY' END AS status,
       array_to_string(reasons, '; ') AS reasons,
       job_state, tasks_running, tasks_total, restarts_10m, resubmissions_10m, last_exception, checkpoint_age_s,
       lag_total, lag, newest_click_age_s, sink_retrying, quarantined_rows,
       newest_message_age_s, rejected_share, skipped_recently, free_disk_mb
FROM pipeline_health
ORDER BY observed_at DESC
LIMIT 1;
