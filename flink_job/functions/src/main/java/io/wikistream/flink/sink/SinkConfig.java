package io.wikistream.flink.sink;

import java.io.Serializable;
import java.util.List;

/**
 * Everything a writer of one table needs, fixed when the job is planned.
 *
 * @param columns       the table's columns in row order; a payload column is carried, not stored
 * @param keyColumns    positions (in columns) of the primary key
 * @param payloadColumn position of the column holding the message's raw bytes, or -1
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
        int payloadColumn,
        int maxRows,
        long flushIntervalMs,
        int maxRetries,
        long retryBackoffMs,
        int rowRetries,
        String eventsQuarantine,
        String rowsQuarantine)
        implements Serializable {

    /** The columns written to the table: all but the payload column. */
    List<Column> stored() {
        return columns.stream().filter(column -> column.position() != payloadColumn).toList();
    }

    int positionOf(String name) {
        return columns.stream().filter(column -> column.name().equals(name)).mapToInt(Column::position).findFirst().orElse(-1);
    }
}
