package io.wikistream.flink.sink;

import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.table.data.RowData;

/** The runtime side of the wikistream-jdbc table sink: one {@link UpsertWriter} per subtask. */
final class UpsertSink implements Sink<RowData> {

    private final SinkConfig config;

    UpsertSink(SinkConfig config) {
        this.config = config;
    }

    @Override
    public SinkWriter<RowData> createWriter(WriterInitContext context) {
        return new UpsertWriter(config, context);
    }
}
