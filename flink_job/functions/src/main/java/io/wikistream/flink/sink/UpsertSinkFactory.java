package io.wikistream.flink.sink;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.catalog.Column.PhysicalColumn;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.logical.LogicalType;

/**
 * {@code 'connector' = 'wikistream-jdbc'}: an upsert sink into one PostgreSQL table whose refused
 * rows go to a quarantine instead of failing the job for ever (see {@link TableWriter}).
 * The Flink JDBC connector has no dead-letter path; its sink retries a refused batch, fails the
 * job, and fails it again on every restart from the checkpoint before the row.
 */
public final class UpsertSinkFactory implements DynamicTableSinkFactory {

    static final ConfigOption<String> URL = ConfigOptions.key("url").stringType().noDefaultValue();
    static final ConfigOption<String> TABLE = ConfigOptions.key("table-name").stringType().noDefaultValue();
    static final ConfigOption<String> USERNAME = ConfigOptions.key("username").stringType().noDefaultValue();
    static final ConfigOption<String> PASSWORD = ConfigOptions.key("password").stringType().noDefaultValue();
    static final ConfigOption<Integer> MAX_ROWS = ConfigOptions.key("sink.buffer-flush.max-rows").intType().defaultValue(5000);
    static final ConfigOption<Duration> INTERVAL =
            ConfigOptions.key("sink.buffer-flush.interval").durationType().defaultValue(Duration.ofMillis(100));
    static final ConfigOption<Integer> MAX_RETRIES = ConfigOptions.key("sink.max-retries").intType().defaultValue(5);
    static final ConfigOption<Duration> RETRY_BACKOFF =
            ConfigOptions.key("sink.retry-backoff").durationType().defaultValue(Duration.ofMillis(500));
    static final ConfigOption<Integer> ROW_RETRIES = ConfigOptions.key("sink.row-retries").intType().defaultValue(2);
    static final ConfigOption<String> PAYLOAD_COLUMN =
            ConfigOptions.key("quarantine.payload-column").stringType().noDefaultValue();
    static final ConfigOption<List<String>> CARRIED_COLUMNS =
            ConfigOptions.key("sink.carried-columns").stringType().asList().defaultValues();
    static final ConfigOption<String> RECEIVED_COLUMN =
            ConfigOptions.key("quarantine.received-column").stringType().noDefaultValue();
    static final ConfigOption<String> ON_CONFLICT =
            ConfigOptions.key("sink.on-conflict").stringType().noDefaultValue();
    static final ConfigOption<String> EVENTS_QUARANTINE =
            ConfigOptions.key("quarantine.events-table").stringType().defaultValue("rejected_events");
    static final ConfigOption<String> ROWS_QUARANTINE =
            ConfigOptions.key("quarantine.rows-table").stringType().defaultValue("refused_rows");

    @Override
    public String factoryIdentifier() {
        return "wikistream-jdbc";
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(URL, TABLE, USERNAME, PASSWORD);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of(MAX_ROWS, INTERVAL, MAX_RETRIES, RETRY_BACKOFF, ROW_RETRIES, PAYLOAD_COLUMN, RECEIVED_COLUMN,
                ON_CONFLICT, CARRIED_COLUMNS, EVENTS_QUARANTINE, ROWS_QUARANTINE);
    }

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        ResolvedSchema schema = context.getCatalogTable().getResolvedSchema();
        List<Column> columns = new ArrayList<>();
        for (org.apache.flink.table.catalog.Column column : schema.getColumns()) {
            if (column instanceof PhysicalColumn) {
                LogicalType type = column.getDataType().getLogicalType();
                columns.add(Column.of(column.getName(), type, columns.size()));
            }
        }
        List<String> key = schema.getPrimaryKey()
                .orElseThrow(() -> new IllegalArgumentException("a wikistream-jdbc sink needs a PRIMARY KEY (it upserts)"))
                .getColumns();
        List<Integer> keyPositions = key.stream()
                .map(name -> columns.stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow().position())
                .toList();
        List<Integer> carried = options.get(CARRIED_COLUMNS).stream().map(name -> position(columns, CARRIED_COLUMNS, name)).toList();
        int payload = role(options, PAYLOAD_COLUMN, columns, Column.Kind.BYTES);
        int received = role(options, RECEIVED_COLUMN, columns, Column.Kind.TIMESTAMP);
        SinkConfig config = new SinkConfig(options.get(URL), options.get(USERNAME), options.get(PASSWORD),
                options.get(TABLE), List.copyOf(columns), keyPositions, carried, payload, received,
                options.getOptional(ON_CONFLICT).orElse(null), options.get(MAX_ROWS),
                options.get(INTERVAL).toMillis(), options.get(MAX_RETRIES), options.get(RETRY_BACKOFF).toMillis(),
                options.get(ROW_RETRIES), options.get(EVENTS_QUARANTINE), options.get(ROWS_QUARANTINE));
        return new TableSink(config);
    }

    private static int position(List<Column> columns, ConfigOption<?> option, String name) {
        return columns.stream().filter(c -> c.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(option.key() + ": '" + name + "' is not a column"))
                .position();
    }

    /** The position of the column an option names for the quarantine, checked for its kind; -1 without one. */
    private static int role(ReadableConfig options, ConfigOption<String> option, List<Column> columns, Column.Kind kind) {
        return options.getOptional(option)
                .map(name -> {
                    int position = position(columns, option, name);
                    if (columns.get(position).kind() != kind) {
                        throw new IllegalArgumentException(option.key() + " must be a " + kind + " column");
                    }
                    return position;
                })
                .orElse(-1);
    }

    private record TableSink(SinkConfig config) implements DynamicTableSink {
        @Override
        public ChangelogMode getChangelogMode(ChangelogMode requested) {
            return ChangelogMode.upsert();
        }

        @Override
        public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
            return SinkV2Provider.of(new UpsertSink(config));
        }

        @Override
        public DynamicTableSink copy() {
            return new TableSink(config);
        }

        @Override
        public String asSummaryString() {
            return "wikistream-jdbc(" + config.table() + ")";
        }
    }
}
