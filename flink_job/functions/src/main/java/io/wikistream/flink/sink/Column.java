package io.wikistream.flink.sink;

import java.io.Serializable;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.utils.LogicalTypeChecks;

/** One column of a sink table: how to take its value out of a Flink row and bind it to a statement. */
record Column(String name, Kind kind, int position, int precision) implements Serializable {

    static Column of(String name, LogicalType type, int position) {
        Kind kind = Kind.of(type);
        return new Column(name, kind, position, kind == Kind.TIMESTAMP ? LogicalTypeChecks.getPrecision(type) : 0);
    }

    enum Kind {
        STRING(Types.VARCHAR), INT(Types.INTEGER), BIGINT(Types.BIGINT), DOUBLE(Types.DOUBLE),
        BOOLEAN(Types.BOOLEAN), TIMESTAMP(Types.TIMESTAMP_WITH_TIMEZONE), BYTES(Types.BINARY),
        INT_ARRAY(Types.ARRAY);

        final int sqlType;

        Kind(int sqlType) {
            this.sqlType = sqlType;
        }

        static Kind of(LogicalType type) {
            return switch (type.getTypeRoot()) {
                case CHAR, VARCHAR -> STRING;
                case TINYINT, SMALLINT, INTEGER -> INT;
                case BIGINT -> BIGINT;
                case FLOAT, DOUBLE -> DOUBLE;
                case BOOLEAN -> BOOLEAN;
                case TIMESTAMP_WITHOUT_TIME_ZONE, TIMESTAMP_WITH_LOCAL_TIME_ZONE -> TIMESTAMP;
                case BINARY, VARBINARY -> BYTES;
                case ARRAY -> {
                    LogicalType element = ((ArrayType) type).getElementType();
                    if (!element.is(LogicalTypeRoot.INTEGER)) {
                        throw new IllegalArgumentException("the wikistream-jdbc sink cannot write " + type);
                    }
                    yield INT_ARRAY;
                }
                default -> throw new IllegalArgumentException("the wikistream-jdbc sink cannot write " + type);
            };
        }
    }

    /** The value as a plain Java object (the row itself may be reused by Flink once write() returns). */
    Object read(RowData row) {
        if (row.isNullAt(position)) {
            return null;
        }
        return switch (kind) {
            case STRING -> {
                StringData text = row.getString(position);
                yield text.toString();
            }
            case INT -> row.getInt(position);
            case BIGINT -> row.getLong(position);
            case DOUBLE -> row.getDouble(position);
            case BOOLEAN -> row.getBoolean(position);
            case TIMESTAMP -> {
                // Timestamps of the job are UTC (table.local-time-zone); stored as timestamptz.
                TimestampData time = row.getTimestamp(position, precision);
                yield time.toLocalDateTime().atOffset(ZoneOffset.UTC);
            }
            case BYTES -> row.getBinary(position).clone();
            case INT_ARRAY -> {
                ArrayData array = row.getArray(position);
                Integer[] values = new Integer[array.size()];
                for (int i = 0; i < values.length; i++) {
                    values[i] = array.isNullAt(i) ? null : array.getInt(i);
                }
                yield values;
            }
        };
    }

    static void bind(PreparedStatement statement, int index, Kind kind, Object value) throws SQLException {
        if (value == null) {
            statement.setNull(index, kind.sqlType);
            return;
        }
        switch (kind) {
            case STRING -> statement.setString(index, (String) value);
            case INT -> statement.setInt(index, (Integer) value);
            case BIGINT -> statement.setLong(index, (Long) value);
            case DOUBLE -> statement.setDouble(index, (Double) value);
            case BOOLEAN -> statement.setBoolean(index, (Boolean) value);
            case TIMESTAMP -> statement.setObject(index, (OffsetDateTime) value);
            case BYTES -> statement.setBytes(index, (byte[]) value);
            case INT_ARRAY -> statement.setArray(index, statement.getConnection().createArrayOf("integer", (Integer[]) value));
        }
    }
}
