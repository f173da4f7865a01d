package io.wikistream.flink.sink;

import java.io.Serializable;
import java.util.List;

/**
 * Everything a writer of one table needs, fixed when the job is planned.
 *
 * @param columns       the table's columns in row order; carried ones are not stored
 * @param carried       positions of the columns carried for the quarantine only, not stored
 * @param keyColumns    positions (in columns) of the primary key
 * @param payloadColumn position of the column holding the message's raw bytes, or -1
 * @param receivedColumn position of the column holding the time Kafka received the message, or -1
 * @param onConflict    what an upsert does with the row it meets ("DO UPDATE SET ..."), or null: overwrite it
 * @param eventsQuarantine table for refused rows that carry a Kafka position (kafka_partition, kafka_offset)
 * @param rowsQuarantine   table for every other refused row
 */
record SinkConfig(
        String url,
        String username,
        String password,
        String table,
        List<Column> columns,
        List<Integer> keyColumns,
        List<Integer> carried,
        int payloadColumn,
        int receivedColumn,
        String onConflict,
        int maxRows,
        long flushIntervalMs,
        int maxRetries,
        long retryBackoffMs,
        int rowRetries,
        String eventsQuarantine,
        String rowsQuarantine)
        implements Serializable {

    /** The columns written to the table: all but those carried for the quarantine. */
    List<Column> stored() {
        return columns.stream().filter(column -> !carried.contains(column.position())).toList();
    }

    int positionOf(String name) {
        return columns.stream().filter(column -> column.name().equals(name)).mapToInt(Column::position).findFirst().orElse(-1);
    }
}
