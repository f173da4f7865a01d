CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS JSON_FIELDS AS 'io.wikistream.flink.JsonFields' LANGUAGE JAVA;

CREATE TEMPORARY TABLE kafka_clicks (
    payload BYTES,
    kafka_partition INT METADATA FROM 'partition' VIRTUAL,
    kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
    kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
    headers MAP<STRING, BYTES> METADATA FROM 'headers' VIRTUAL,
    event_time AS CASE WHEN headers['wikistream-tick'] IS NOT NULL THEN CASE WHEN CASE WHEN payload IS NOT NULL AND payload <> X'' THEN 'tick: carries a payload' WHEN TRY_CAST(CAST(headers['wikistream-tick'] AS STRING) AS BIGINT) IS NULL THEN 'tick: header is not a time in epoch ms' WHEN TRY_CAST(CAST(headers['wikistream-tick'] AS STRING) AS BIGINT) NOT BETWEEN 979516800000 AND 253402300799999 THEN 'tick: out of range' WHEN TO_TIMESTAMP_LTZ(TRY_CAST(CAST(headers['wikistream-tick'] AS STRING) AS BIGINT), 3) > kafka_ts + INTERVAL '5' MINUTE THEN 'tick: in the future' ELSE CAST(NULL AS STRING) END IS NULL THEN TO_TIMESTAMP_LTZ(TRY_CAST(CAST(headers['wikistream-tick'] AS STRING) AS BIGINT), 3) ELSE TO_TIMESTAMP_LTZ(0, 3) END WHEN (JSON_FIELDS(payload, 'event_id:string:64,user_id:string:64,session_id:string:64,seq:integer:1:2147483647,prev:string:512,curr:string:512,type:string:16:link|external|other,event_time_ms:integer:979516800000:253402300799999', 16384)).reject_reason IS NULL AND NOT (TO_TIMESTAMP_LTZ(CAST((JSON_FIELDS(payload, 'event_id:string:64,user_id:string:64,session_id:string:64,seq:integer:1:2147483647,prev:string:512,curr:string:512,type:string:16:link|external|other,event_time_ms:integer:979516800000:253402300799999', 16384)).fields[8] AS BIGINT), 3) > kafka_ts + INTERVAL '5' MINUTE) THEN TO_TIMESTAMP_LTZ(CAST((JSON_FIELDS(payload, 'event_id:string:64,user_id:string:64,session_id:string:64,seq:integer:1:2147483647,prev:string:512,curr:string:512,type:string:16:link|external|other,event_time_ms:integer:979516800000:253402300799999', 16384)).fields[8] AS BIGINT), 3) ELSE TO_TIMESTAMP_LTZ(0, 3) END,
    proc_time AS PROCTIME(),
    WATERMARK FOR event_time AS event_time - INTERVAL '5' SECOND
) WITH (
    'connector' = 'kafka',
    'topic' = 'clicks',
    'properties.bootstrap.servers' = '127.0.0.1:9092',
    'properties.group.id' = 'wikistream-flink',
    'scan.startup.mode' = 'group-offsets',
    'properties.auto.offset.reset' = 'earliest',
    'format' = 'raw'
);

CREATE TEMPORARY TABLE users_dim (
    user_id STRING,
    country STRING,
    PRIMARY KEY (user_id) NOT ENFORCED
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:postgresql://127.0.0.1:5432/wikistream?authenticationPluginClassName=io.wikistream.flink.sink.ScramOnlyAuthentication',
    'table-name' = 'users',
    'username' = 'wikistream_writer',
    'password' = '<writer password>',
    'lookup.cache' = 'PARTIAL',
    'lookup.partial-cache.max-rows' = '20000',
    'lookup.partial-cache.expire-after-write' = '10 min',
    'lookup.partial-cache.cache-missing-key' = 'true',
    'lookup.max-retries' = '3'
);

CREATE TEMPORARY TABLE sink_clicks (
    event_id STRING, user_id STRING, session_id STRING, seq INT, `prev` STRING, curr STRING, link_type STRING, referrer_class STRING, event_time TIMESTAMP(3), kafka_partition INT, kafka_offset BIGINT, ingested_at TIMESTAMP(3), raw_payload BYTES, received_at TIMESTAMP(3),
    PRIMARY KEY (event_id, event_time) NOT ENFORCED
) WITH (
    'connector' = 'wikistream-jdbc',
    'url' = 'jdbc:postgresql://127.0.0.1:5432/wikistream?authenticationPluginClassName=io.wikistream.flink.sink.ScramOnlyAuthentication&reWriteBatchedInserts=true',
    'table-name' = 'clicks',
    'username' = 'wikistream_writer',
    'password' = '<writer password>',
    'sink.buffer-flush.max-rows' = '5000',
    'sink.buffer-flush.interval' = '50 ms',
    'sink.max-retries' = '5',
    'sink.retry-backoff' = '500 ms',
    'sink.row-retries' = '2',
    'quarantine.events-table' = 'rejected_events',
    'quarantine.rows-table' = 'refused_rows',
    'sink.carried-columns' = 'raw_payload;received_at',
    'quarantine.payload-column' = 'raw_payload',
    'quarantine.received-column' = 'received_at'
);

CREATE TEMPORARY TABLE sink_rejected_events (
    kafka_partition INT, kafka_offset BIGINT, reason STRING, raw_payload BYTES, received_at TIMESTAMP(3),
    PRIMARY KEY (kafka_partition, kafka_offset, received_at) NOT ENFORCED
) WITH (
    'connector' = 'wikistream-jdbc',
    'url' = 'jdbc:postgresql://127.0.0.1:5432/wikistream?authenticationPluginClassName=io.wikistream.flink.sink.ScramOnlyAuthentication&reWriteBatchedInserts=true',
    'table-name' = 'rejected_events',
    'username' = 'wikistream_writer',
    'password' = '<writer password>',
    'sink.buffer-flush.max-rows' = '5000',
    'sink.buffer-flush.interval' = '50 ms',
    'sink.max-retries' = '5',
    'sink.retry-backoff' = '500 ms',
    'sink.row-retries' = '2',
    'quarantine.events-table' = 'rejected_events',
    'quarantine.rows-table' = 'refused_rows',
    'quarantine.payload-column' = 'raw_payload',
    'quarantine.received-column' = 'received_at'
);

CREATE TEMPORARY TABLE sink_late_events (
    event_id STRING, event_time TIMESTAMP(3), `watermark` TIMESTAMP(3), received_at TIMESTAMP(3),
    PRIMARY KEY (event_id, event_time) NOT ENFORCED
) WITH (
    'connector' = 'wikistream-jdbc',
    'url' = 'jdbc:postgresql://127.0.0.1:5432/wikistream?authenticationPluginClassName=io.wikistream.flink.sink.ScramOnlyAuthentication&reWriteBatchedInserts=true',
    'table-name' = 'late_events',
    'username' = 'wikistream_writer',
    'password' = '<writer password>',
    'sink.buffer-flush.max-rows' = '5000',
    'sink.buffer-flush.interval' = '50 ms',
    'sink.max-retries' = '5',
    'sink.retry-backoff' = '500 ms',
    'sink.row-retries' = '2',
    'quarantine.events-table' = 'rejected_events',
    'quarantine.rows-table' = 'refused_rows'
);

CREATE TEMPORARY TABLE sink_clicks_per_minute_article (
    window_start TIMESTAMP(3), article STRING, clicks BIGINT,
    PRIMARY KEY (window_start, article) NOT ENFORCED
) WITH (
    'connector' = 'wikistream-jdbc',
    'url' = 'jdbc:postgresql://127.0.0.1:5432/wikistream?authenticationPluginClassName=io.wikistream.flink.sink.ScramOnlyAuthentication&reWriteBatchedInserts=true',
    'table-name' = 'clicks_per_minute_article',
    'username' = 'wikistream_writer',
    'password' = '<writer password>',
    'sink.buffer-flush.max-rows' = '5000',
    'sink.buffer-flush.interval' = '50 ms',
    'sink.max-retries' = '5',
    'sink.retry-backoff' = '500 ms',
    'sink.row-retries' = '2',
    'quarantine.events-table' = 'rejected_events',
    'quarantine.rows-table' = 'refused_rows'
);

CREATE TEMPORARY TABLE sink_clicks_per_minute_referrer (
    window_start TIMESTAMP(3), referrer_class STRING, clicks BIGINT,
    PRIMARY KEY (window_start, referrer_class) NOT ENFORCED
) WITH (
    'connector' = 'wikistream-jdbc',
    'url' = 'jdbc:postgresql://127.0.0.1:5432/wikistream?authenticationPluginClassName=io.wikistream.flink.sink.ScramOnlyAuthentication&reWriteBatchedInserts=true',
    'table-name' = 'clicks_per_minute_referrer',
    'username' = 'wikistream_writer',
    'password' = '<writer password>',
    'sink.buffer-flush.max-rows' = '5000',
    'sink.buffer-flush.interval' = '50 ms',
    'sink.max-retries' = '5',
    'sink.retry-backoff' = '500 ms',
    'sink.row-retries' = '2',
    'quarantine.events-table' = 'rejected_events',
    'quarantine.rows-table' = 'refused_rows'
);

CREATE TEMPORARY TABLE sink_clicks_per_minute_country (
    window_start TIMESTAMP(3), country STRING, clicks BIGINT,
    PRIMARY KEY (window_start, country) NOT ENFORCED
) WITH (
    'connector' = 'wikistream-jdbc',
    'url' = 'jdbc:postgresql://127.0.0.1:5432/wikistream?authenticationPluginClassName=io.wikistream.flink.sink.ScramOnlyAuthentication&reWriteBatchedInserts=true',
    'table-name' = 'clicks_per_minute_country',
    'username' = 'wikistream_writer',
    'password' = '<writer password>',
    'sink.buffer-flush.max-rows' = '5000',
    'sink.buffer-flush.interval' = '50 ms',
    'sink.max-retries' = '5',
    'sink.retry-backoff' = '500 ms',
    'sink.row-retries' = '2',
    'quarantine.events-table' = 'rejected_events',
    'quarantine.rows-table' = 'refused_rows'
);

CREATE TEMPORARY TABLE sink_session_stats (
    session_id STRING, user_id STRING, pages BIGINT, first_event TIMESTAMP(3), last_event TIMESTAMP(3), duration_s DOUBLE, seqs ARRAY<INT>,
    PRIMARY KEY (session_id) NOT ENFORCED
) WITH (
    'connector' = 'wikistream-jdbc',
    'url' = 'jdbc:postgresql://127.0.0.1:5432/wikistream?authenticationPluginClassName=io.wikistream.flink.sink.ScramOnlyAuthentication&reWriteBatchedInserts=true',
    'table-name' = 'session_stats',
    'username' = 'wikistream_writer',
    'password' = '<writer password>',
    'sink.buffer-flush.max-rows' = '100000',
    'sink.buffer-flush.interval' = '5 s',
    'sink.max-retries' = '5',
    'sink.retry-backoff' = '500 ms',
    'sink.row-retries' = '2',
    'quarantine.events-table' = 'rejected_events',
    'quarantine.rows-table' = 'refused_rows',
    'sink.on-conflict' = 'DO UPDATE SET user_id = EXCLUDED.user_id, seqs = ARRAY(SELECT DISTINCT s FROM unnest(session_stats.seqs || EXCLUDED.seqs) AS s ORDER BY s), pages = (SELECT count(DISTINCT s) FROM unnest(session_stats.seqs || EXCLUDED.seqs) AS s), first_event = LEAST(session_stats.first_event, EXCLUDED.first_event), last_event = GREATEST(session_stats.last_event, EXCLUDED.last_event), duration_s = floor(EXTRACT(EPOCH FROM GREATEST(session_stats.last_event, EXCLUDED.last_event) - LEAST(session_stats.first_event, EXCLUDED.first_event)))'
);

CREATE TEMPORARY VIEW parsed_clicks AS
SELECT payload, headers, kafka_partition, kafka_offset, kafka_ts, event_time, proc_time,
    headers['wikistream-tick'] IS NOT NULL AS is_tick, JSON_FIELDS(payload, 'event_id:string:64,user_id:string:64,session_id:string:64,seq:integer:1:2147483647,prev:string:512,curr:string:512,type:string:16:link|external|other,event_time_ms:integer:979516800000:253402300799999', 16384) AS parsed
FROM kafka_clicks;

CREATE TEMPORARY VIEW checked AS
SELECT *, CASE WHEN headers['wikistream-tick'] IS NOT NULL THEN CASE WHEN payload IS NOT NULL AND payload <> X'' THEN 'tick: carries a payload' WHEN TRY_CAST(CAST(headers['wikistream-tick'] AS STRING) AS BIGINT) IS NULL THEN 'tick: header is not a time in epoch ms' WHEN TRY_CAST(CAST(headers['wikistream-tick'] AS STRING) AS BIGINT) NOT BETWEEN 979516800000 AND 253402300799999 THEN 'tick: out of range' WHEN TO_TIMESTAMP_LTZ(TRY_CAST(CAST(headers['wikistream-tick'] AS STRING) AS BIGINT), 3) > kafka_ts + INTERVAL '5' MINUTE THEN 'tick: in the future' ELSE CAST(NULL AS STRING) END WHEN parsed.reject_reason IS NOT NULL THEN parsed.reject_reason WHEN TO_TIMESTAMP_LTZ(CAST(parsed.fields[8] AS BIGINT), 3) > kafka_ts + INTERVAL '5' MINUTE THEN 'out of range: event_time_ms (in the future)' ELSE CAST(NULL AS STRING) END AS reject_reason
FROM parsed_clicks;

CREATE TEMPORARY VIEW typed_clicks AS
SELECT
    parsed.fields[1] AS event_id,
    parsed.fields[2] AS user_id,
    parsed.fields[3] AS session_id,
    CAST(parsed.fields[4] AS INT) AS seq,
    parsed.fields[5] AS `prev`,
    parsed.fields[6] AS curr,
    parsed.fields[7] AS link_type,
    event_time, proc_time, kafka_partition, kafka_offset, kafka_ts, payload
FROM checked
WHERE reject_reason IS NULL AND NOT is_tick;

CREATE TEMPORARY VIEW valid_clicks AS
SELECT *, CASE WHEN `prev` = 'other-search' THEN 'search' WHEN `prev` = 'other-external' THEN 'external site' WHEN `prev` = 'other-internal' THEN 'other Wikimedia project' WHEN `prev` = 'other-empty' THEN 'no referrer' WHEN `prev` = 'other-other' THEN 'other' WHEN link_type = 'link' THEN 'internal link' ELSE 'other' END AS referrer_class
FROM typed_clicks;

CREATE TEMPORARY VIEW on_time_clicks AS
SELECT *
FROM valid_clicks
WHERE CURRENT_WATERMARK(event_time) IS NULL OR event_time >= CURRENT_WATERMARK(event_time);

CREATE TEMPORARY VIEW enriched_clicks AS
SELECT c.event_id, c.event_time, COALESCE(u.country, 'unknown') AS country
FROM on_time_clicks AS c
LEFT JOIN users_dim FOR SYSTEM_TIME AS OF c.proc_time AS u
ON c.user_id = u.user_id;

INSERT INTO sink_clicks
SELECT event_id, user_id, session_id, seq, `prev`, curr, link_type, referrer_class,
    CAST(event_time AS TIMESTAMP(3)), kafka_partition, kafka_offset, CAST(CURRENT_TIMESTAMP AS TIMESTAMP(3)), payload, CAST(kafka_ts AS TIMESTAMP(3))
FROM valid_clicks;

INSERT INTO sink_rejected_events
SELECT kafka_partition, kafka_offset, reject_reason, payload, CAST(kafka_ts AS TIMESTAMP(3))
FROM checked
WHERE reject_reason IS NOT NULL;

INSERT INTO sink_late_events
SELECT event_id, CAST(event_time AS TIMESTAMP(3)), CAST(CURRENT_WATERMARK(event_time) AS TIMESTAMP(3)), CAST(CURRENT_TIMESTAMP AS TIMESTAMP(3))
FROM valid_clicks
WHERE event_time < CURRENT_WATERMARK(event_time);

INSERT INTO sink_clicks_per_minute_article
SELECT window_start, curr, COUNT(*)
FROM TABLE(TUMBLE(TABLE on_time_clicks, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, curr;

INSERT INTO sink_clicks_per_minute_referrer
SELECT window_start, referrer_class, COUNT(*)
FROM TABLE(TUMBLE(TABLE on_time_clicks, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, referrer_class;

INSERT INTO sink_clicks_per_minute_country
SELECT window_start, country, COUNT(*)
FROM TABLE(TUMBLE(TABLE enriched_clicks, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, country;

INSERT INTO sink_session_stats
SELECT session_id, MAX(user_id), COUNT(DISTINCT seq),
    CAST(MIN(event_time) AS TIMESTAMP(3)), CAST(MAX(event_time) AS TIMESTAMP(3)),
    TIMESTAMPDIFF(SECOND, MIN(event_time), MAX(event_time)) * 1.0, ARRAY_SORT(ARRAY_AGG(DISTINCT seq))
FROM valid_clicks
GROUP BY session_id;

