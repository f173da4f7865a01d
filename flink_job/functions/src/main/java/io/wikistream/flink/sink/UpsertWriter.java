package io.wikistream.flink.sink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.table.data.RowData;
import org.apache.flink.types.RowKind;

/**
 * Buffers the newest change per primary key and hands them to a {@link TableWriter}: when the buffer
 * holds sink.buffer-flush.max-rows keys, every sink.buffer-flush.interval, and before every
 * checkpoint barrier (flush), so a completed checkpoint means every row before it is in PostgreSQL.
 *
 * <p>Metrics, per subtask: {@code wikistreamRetrying} (1 while PostgreSQL is being retried) and
 * {@code wikistreamQuarantined} (rows the database refused and the quarantine took); `make status`
 * reads them through Flink's REST API.
 */
final class UpsertWriter implements SinkWriter<RowData> {

    private final SinkConfig config;
    private final TableWriter writer;
    private final ProcessingTimeService time;
    private final Map<List<Object>, TableWriter.Change> buffer = new LinkedHashMap<>();

    UpsertWriter(SinkConfig config, WriterInitContext context) {
        this.config = config;
        Counter quarantined = context.metricGroup().counter("wikistreamQuarantined");
        this.writer = new TableWriter(config, context.getUserCodeClassLoader().asClassLoader(), quarantined::inc);
        context.metricGroup().gauge("wikistreamRetrying", () -> writer.isRetrying() ? 1 : 0);
        this.time = context.getProcessingTimeService();
        scheduleFlush();
    }

    private void scheduleFlush() {
        // Timers run on the task's thread, between records; a failure there fails the task.
        time.registerTimer(time.getCurrentProcessingTime() + config.flushIntervalMs(), now -> {
            flushBuffer();
            scheduleFlush();
        });
    }

    @Override
    public void write(RowData row, Context context) throws IOException, InterruptedException {
        Object[] values = new Object[config.columns().size()];
        for (Column column : config.columns()) {
            values[column.position()] = column.read(row);
        }
        List<Object> key = new ArrayList<>(config.keyColumns().size());
        for (int position : config.keyColumns()) {
            Object value = values[position];
            key.add(value instanceof byte[] bytes ? Arrays.toString(bytes) : value);
        }
        boolean delete = row.getRowKind() == RowKind.DELETE || row.getRowKind() == RowKind.UPDATE_BEFORE;
        buffer.put(key, new TableWriter.Change(values, delete));
        if (buffer.size() >= config.maxRows()) {
            flushBuffer();
        }
    }

    private void flushBuffer() throws IOException, InterruptedException {
        if (buffer.isEmpty()) {
            return;
        }
        writer.write(new ArrayList<>(buffer.values()));
        buffer.clear();
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
        flushBuffer();
    }

    @Override
    public void close() {
        writer.close();
    }
}
