-- Indexes for the dashboard queries (the primary keys already cover window_start lookups).
CREATE INDEX IF NOT EXISTS clicks_event_time_idx ON clicks (event_time DESC);
CREATE INDEX IF NOT EXISTS clicks_user_idx ON clicks (user_id);
CREATE INDEX IF NOT EXISTS rejected_received_idx ON rejected_events (received_at DESC);
CREATE INDEX IF NOT EXISTS cpm_article_time_idx ON clicks_per_minute_article (window_start DESC, clicks DESC);
CREATE INDEX IF NOT EXISTS session_stats_last_idx ON session_stats (last_event DESC);
