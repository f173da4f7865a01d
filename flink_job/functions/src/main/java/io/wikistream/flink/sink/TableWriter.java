package io.wikistream.flink.sink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonGenerator;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.SerializationFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.json.JsonMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes batches of upserts and deletes to one PostgreSQL table, and never lets one row stall it.
 *
 * <p>A batch is one transaction. When it fails:
 * <ul>
 *   <li>because of the database's state (connection lost, server shutting down, a missing privilege:
 *       see {@link #unavailable}), the whole batch is retried with back-off, sink.max-retries times,
 *       and then the writer fails, so the job restarts from its last checkpoint: nothing is dropped;</li>
 *   <li>because a row was refused, the rows are written one by one under savepoints; a row refused again
 *       (sink.row-retries more times) goes to the quarantine with the database's reason, in the same
 *       transaction as the rows that were accepted, and the rest of the batch lands.</li>
 * </ul>
 * A refused row that carries a Kafka position goes to the events quarantine (rejected_events) with
 * the message's raw bytes, so every offset is still in exactly one of the two tables; any other
 * refused row goes to the rows quarantine (refused_rows) as JSON. Replays overwrite in both.
 */
final class TableWriter implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TableWriter.class);
    private static final int REASON_CHARS = 2000;
    private static final List<String> ROW_LEVEL_CLASSES = List.of("22", "23", "54");
    // ASCII-only JSON: lone surrogates and control characters become \\u escapes PostgreSQL text can hold.
    private static final ObjectMapper ROW_JSON = JsonMapper.builder()
            .enable(JsonGenerator.Feature.ESCAPE_NON_ASCII)
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .build();

    /** A pending change of one key: the row's values, or a delete. */
    record Change(Object[] values, boolean delete) {}

    private final SinkConfig config;
    private final List<Column> stored;
    private final String upsertSql;
    private final String deleteSql;
    private final Driver driver;
    private final Consumer<Integer> onQuarantined;
    private Connection connection;
    private volatile boolean retrying;

    TableWriter(SinkConfig config, ClassLoader classLoader, Consumer<Integer> onQuarantined) {
        this.config = config;
        this.stored = config.stored();
        this.onQuarantined = onQuarantined;
        this.upsertSql = upsertSql(config.table(), stored, keyNames(), config.onConflict());
        this.deleteSql = "DELETE FROM " + quote(config.table()) + " WHERE "
                + keyNames().stream().map(name -> quote(name) + " = ?").collect(Collectors.joining(" AND "));
        try {
            this.driver = (Driver) Class.forName("org.postgresql.Driver", true, classLoader).getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException error) {
            throw new IllegalStateException("the PostgreSQL JDBC driver is not on the job's classpath", error);
        }
    }

    boolean isRetrying() {
        return retrying;
    }

    private List<String> keyNames() {
        return config.keyColumns().stream().map(position -> config.columns().get(position).name()).toList();
    }

    static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    /** An upsert that overwrites the row it meets, unless the table's sink.on-conflict says how to merge. */
    private static String upsertSql(String table, List<Column> columns, List<String> key, String merge) {
        String names = columns.stream().map(column -> quote(column.name())).collect(Collectors.joining(", "));
        String marks = columns.stream().map(column -> "?").collect(Collectors.joining(", "));
        List<String> updated = columns.stream().map(Column::name).filter(name -> !key.contains(name)).toList();
        String onConflict = merge != null
                ? merge
                : updated.isEmpty()
                ? "DO NOTHING"
                : "DO UPDATE SET " + updated.stream().map(name -> quote(name) + " = EXCLUDED." + quote(name)).collect(Collectors.joining(", "));
        return "INSERT INTO " + quote(table) + " (" + names + ") VALUES (" + marks + ") ON CONFLICT ("
                + key.stream().map(TableWriter::quote).collect(Collectors.joining(", ")) + ") " + onConflict;
    }

    /** Writes every change, or throws once PostgreSQL stayed unreachable through every retry. */
    void write(List<Change> changes) throws IOException, InterruptedException {
        for (int attempt = 0; ; attempt++) {
            try {
                Connection conn = connection();
                try {
                    writeBatch(conn, changes);
                    conn.commit();
                } catch (SQLException batchError) {
                    conn.rollback();
                    if (unavailable(batchError, conn)) {
                        throw batchError;
                    }
                    writeIsolated(conn, changes, batchError);
                }
                retrying = false;
                return;
            } catch (SQLException error) {
                closeConnection();
                if (attempt >= config.maxRetries()) {
                    throw new IOException("PostgreSQL did not accept a batch for " + config.table() + " after "
                            + (attempt + 1) + " attempts (the job restarts from its last checkpoint): " + error, error);
                }
                retrying = true;
                long backoff = Math.min(config.retryBackoffMs() << Math.min(attempt, 10), 30_000L);
                LOG.warn("writing {} failed (attempt {} of {}), retrying in {} ms: {}", config.table(), attempt + 1,
                        config.maxRetries() + 1, backoff, error.toString());
                Thread.sleep(backoff);
            }
        }
    }

    /**
     * True unless PostgreSQL refused the row itself: a data exception (SQLSTATE class 22), an integrity
     * constraint (23) or a program limit such as an oversized index entry (54), on a live connection.
     * Anything else (connection lost, server shutting down, missing privilege or table) is a state of
     * the database, not of the row: retried, then the job fails loudly; never quarantined.
     */
    static boolean unavailable(SQLException error, Connection conn) {
        String state = error.getSQLState();
        if (state == null || !ROW_LEVEL_CLASSES.contains(state.substring(0, Math.min(2, state.length())))) {
            return true;
        }
        try {
            return !conn.isValid(5);
        } catch (SQLException probe) {
            return true;
        }
    }

    private void writeBatch(Connection conn, List<Change> changes) throws SQLException {
        try (PreparedStatement upsert = conn.prepareStatement(upsertSql);
             PreparedStatement delete = conn.prepareStatement(deleteSql)) {
            boolean upserts = false;
            boolean deletes = false;
            for (Change change : changes) {
                if (change.delete()) {
                    bindKey(delete, change.values());
                    delete.addBatch();
                    deletes = true;
                } else {
                    bindRow(upsert, change.values());
                    upsert.addBatch();
                    upserts = true;
                }
            }
            if (upserts) {
                upsert.executeBatch();
            }
            if (deletes) {
                delete.executeBatch();
            }
        }
    }

    private void writeOne(Connection conn, Change change) throws SQLException {
        try (PreparedStatement statement = conn.prepareStatement(change.delete() ? deleteSql : upsertSql)) {
            if (change.delete()) {
                bindKey(statement, change.values());
            } else {
                bindRow(statement, change.values());
            }
            statement.executeUpdate();
        }
    }

    private void writeIsolated(Connection conn, List<Change> changes, SQLException batchError) throws SQLException {
        LOG.warn("a batch for {} was refused ({}); writing its {} rows one by one", config.table(), batchError.toString(),
                changes.size());
        List<Map.Entry<Change, SQLException>> refused = new ArrayList<>();
        for (Change change : changes) {
            SQLException last = null;
            for (int attempt = 0; attempt <= config.rowRetries(); attempt++) {
                Savepoint savepoint = conn.setSavepoint();
                try {
                    writeOne(conn, change);
                    conn.releaseSavepoint(savepoint);
                    last = null;
                    break;
                } catch (SQLException error) {
                    conn.rollback(savepoint);
                    if (unavailable(error, conn)) {
                        throw error;
                    }
                    last = error;
                }
            }
            if (last != null) {
                refused.add(Map.entry(change, last));
            }
        }
        for (Map.Entry<Change, SQLException> entry : refused) {
            quarantine(conn, entry.getKey(), entry.getValue());
        }
        conn.commit();
        if (!refused.isEmpty()) {
            onQuarantined.accept(refused.size());
        }
    }

    private void quarantine(Connection conn, Change change, SQLException error) throws SQLException {
        String reason = printable("refused by PostgreSQL writing " + config.table() + ": " + error.getSQLState() + " "
                + error.getMessage());
        int partition = config.positionOf("kafka_partition");
        int offset = config.positionOf("kafka_offset");
        Object[] values = change.values();
        LOG.warn("quarantined a row of {} ({})", config.table(), reason);
        if (partition >= 0 && offset >= 0 && values[partition] != null && values[offset] != null) {
            byte[] payload = config.payloadColumn() >= 0 && values[config.payloadColumn()] != null
                    ? (byte[]) values[config.payloadColumn()]
                    : rowJson(values).getBytes(StandardCharsets.UTF_8);
            // Kafka's receipt time keys the row (and its day partition); without it, now stands in.
            Object received = config.receivedColumn() >= 0 ? values[config.receivedColumn()] : null;
            try (PreparedStatement statement = conn.prepareStatement("INSERT INTO " + quote(config.eventsQuarantine())
                    + " (kafka_partition, kafka_offset, reason, raw_payload, received_at)"
                    + " VALUES (?, ?, ?, ?, coalesce(?, now()))"
                    + " ON CONFLICT (kafka_partition, kafka_offset, received_at) DO UPDATE SET reason = EXCLUDED.reason,"
                    + " raw_payload = EXCLUDED.raw_payload")) {
                statement.setInt(1, (Integer) values[partition]);
                statement.setLong(2, (Long) values[offset]);
                statement.setString(3, reason);
                statement.setBytes(4, payload);
                Column.bind(statement, 5, Column.Kind.TIMESTAMP, received);
                statement.executeUpdate();
            }
            return;
        }
        String key = rowJson(config.keyColumns().stream().map(position -> values[position]).toArray());
        try (PreparedStatement statement = conn.prepareStatement("INSERT INTO " + quote(config.rowsQuarantine())
                + " (table_name, row_key, row_data, reason, refused_at) VALUES (?, ?, ?, ?, now())"
                + " ON CONFLICT (table_name, row_key) DO UPDATE SET row_data = EXCLUDED.row_data,"
                + " reason = EXCLUDED.reason, refused_at = EXCLUDED.refused_at")) {
            statement.setString(1, config.table());
            statement.setString(2, key);
            statement.setString(3, rowJson(values));
            statement.setString(4, reason);
            statement.executeUpdate();
        }
    }

    private String rowJson(Object[] values) {
        Map<String, Object> named = new LinkedHashMap<>();
        if (values.length == config.columns().size()) {
            for (Column column : config.columns()) {
                named.put(column.name(), render(values[column.position()]));
            }
        } else {
            for (int i = 0; i < values.length; i++) {
                named.put(config.columns().get(config.keyColumns().get(i)).name(), render(values[i]));
            }
        }
        try {
            return ROW_JSON.writeValueAsString(named);
        } catch (JsonProcessingException error) {
            return named.toString();
        }
    }

    private static Object render(Object value) {
        if (value instanceof Object[] array) {
            return java.util.Arrays.asList(array);
        }
        return value instanceof byte[] || value == null || value instanceof Number || value instanceof Boolean
                ? value
                : value.toString();
    }

    /** Text PostgreSQL can store whatever the database's message echoed: no control characters or lone surrogates. */
    static String printable(String text) {
        StringBuilder out = new StringBuilder(Math.min(text.length(), REASON_CHARS));
        for (int i = 0; i < text.length() && out.length() < REASON_CHARS; i++) {
            char unit = text.charAt(i);
            boolean pair = Character.isHighSurrogate(unit) && i + 1 < text.length()
                    && Character.isLowSurrogate(text.charAt(i + 1));
            if (pair) {
                out.append(unit).append(text.charAt(++i));
            } else if (Character.isSurrogate(unit) || Character.getType(unit) == Character.CONTROL) {
                out.append(String.format("\\u%04x", (int) unit));
            } else {
                out.append(unit);
            }
        }
        return out.toString();
    }

    private void bindRow(PreparedStatement statement, Object[] values) throws SQLException {
        int index = 1;
        for (Column column : stored) {
            Column.bind(statement, index++, column.kind(), values[column.position()]);
        }
    }

    private void bindKey(PreparedStatement statement, Object[] values) throws SQLException {
        int index = 1;
        for (int position : config.keyColumns()) {
            Column column = config.columns().get(position);
            Column.bind(statement, index++, column.kind(), values[position]);
        }
    }

    private Connection connection() throws SQLException {
        if (connection == null) {
            Properties properties = new Properties();
            properties.setProperty("user", config.username());
            properties.setProperty("password", config.password());
            properties.setProperty("ApplicationName", "wikistream-sink " + config.table());
            properties.setProperty("connectTimeout", "10");
            // A half-open connection must fail the write, not hang the task for ever.
            properties.setProperty("socketTimeout", "120");
            properties.setProperty("tcpKeepAlive", "true");
            Connection conn = driver.connect(config.url(), properties);
            if (conn == null) {
                throw new SQLException("not a PostgreSQL JDBC URL: " + config.url(), "08001");
            }
            conn.setAutoCommit(false);
            connection = conn;
        }
        return connection;
    }

    private void closeConnection() {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // The connection is being replaced because it failed; its close may fail too.
            }
            connection = null;
        }
    }

    @Override
    public void close() {
        closeConnection();
    }
}
