package io.wikistream.flink;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParseException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.StreamReadFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.DeserializationFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.json.JsonMapper;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.binary.BinaryStringData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * Parses a message once and checks it against a field list, so the job's SQL never re-parses JSON.
 *
 * <p>Flink's JSON_VALUE/JSON_QUERY parse the whole payload on every call; validating eight fields
 * that way cost about 40 parses per event and 82% of the TaskManager's time (bench/profiles/).
 *
 * <p>The field list comes from the SQL call as text ({@code name:kind:max_chars,...}, kind being
 * {@code string} or {@code integer}), built from wikistream/events.py, so the event contract is
 * written in one place. Domain rules (allowed values, ranges) stay in SQL on the returned values.
 *
 * <p>Returns {@code reject_reason}, NULL when the message is a JSON object whose listed fields are
 * all present with the right kind and size, and {@code fields}: the listed fields in their order,
 * as text (an integer in its decimal spelling), or NULL when the message was rejected.
 *
 * <p>Flink SQL does not share a call between expressions: every reference to the result, in a
 * view or a computed column, calls this function again with the same message. The last message
 * and its result are remembered per thread, so each message is parsed once; arguments and result
 * are Flink's internal structures, so a repeated call converts nothing.
 */
@FunctionHint(
        input = {
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class),
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class),
            @DataTypeHint("INT")
        },
        output = @DataTypeHint(
                value = "ROW<reject_reason STRING, fields ARRAY<STRING>>",
                bridgedTo = RowData.class))
public class JsonFields extends ScalarFunction {

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private record Field(String name, boolean integer, int maxChars) {}

    /** The last call on this thread. The payload is a copy: the caller may reuse its buffer. */
    private static final class LastCall {
        StringData payload;
        StringData spec;
        Integer maxMessageChars;
        RowData result;
    }

    private static final ThreadLocal<LastCall> LAST_CALL = ThreadLocal.withInitial(LastCall::new);

    private StringData parsedSpec;
    private List<Field> fields;

    public RowData eval(StringData payload, StringData spec, Integer maxMessageChars) {
        LastCall last = LAST_CALL.get();
        if (payload != null && payload.equals(last.payload) && spec.equals(last.spec)
                && maxMessageChars.equals(last.maxMessageChars)) {
            return last.result;
        }
        RowData result = check(payload, spec, maxMessageChars);
        last.payload = payload == null ? null : ((BinaryStringData) payload).copy();
        if (!spec.equals(last.spec)) {
            // A literal in the job's SQL: copied once per thread, not once per message.
            last.spec = ((BinaryStringData) spec).copy();
        }
        last.maxMessageChars = maxMessageChars;
        last.result = result;
        return result;
    }

    /**
     * Not true, and on purpose: Flink inlines a deterministic call into every expression that uses a
     * field of its result (it has no common-subexpression reuse), which multiplied the calls per
     * message by about 100. A non-deterministic call is computed once per view and passed on.
     */
    @Override
    public boolean isDeterministic() {
        return false;
    }

    private RowData check(StringData payload, StringData spec, Integer maxMessageChars) {
        if (payload == null || ((BinaryStringData) payload).getSizeInBytes() == 0) {
            return rejected("empty message");
        }
        String text = payload.toString();
        if (text.length() > maxMessageChars) {
            return rejected("oversized message (over " + maxMessageChars + " characters)");
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JsonParseException error) {
            String message = error.getOriginalMessage();
            return rejected(message.startsWith("Duplicate field") ? "duplicate field" : "not a JSON object");
        } catch (JsonProcessingException error) {
            return rejected("not a JSON object");
        }
        if (root == null || !root.isObject()) {
            return rejected("not a JSON object");
        }
        List<Field> expected = fieldsOf(spec);
        StringData[] values = new StringData[expected.size()];
        for (int i = 0; i < values.length; i++) {
            Field field = expected.get(i);
            JsonNode node = root.get(field.name());
            String reason = problem(field, node);
            if (reason != null) {
                return rejected(reason);
            }
            values[i] = StringData.fromString(field.integer() ? node.asText() : node.textValue());
        }
        return GenericRowData.of(null, new GenericArrayData(values));
    }

    private static String problem(Field field, JsonNode node) {
        if (node == null || node.isNull()) {
            return "missing field: " + field.name();
        }
        if (field.integer()) {
            boolean fits = node.isIntegralNumber() && digits(node.asText()) <= field.maxChars();
            return fits ? null : "mistyped field: " + field.name() + " (expected integer)";
        }
        if (!node.isTextual()) {
            return "mistyped field: " + field.name() + " (expected string)";
        }
        String text = node.textValue();
        if (text.isEmpty()) {
            return "empty field: " + field.name();
        }
        if (text.codePointCount(0, text.length()) > field.maxChars()) {
            return "oversized field: " + field.name();
        }
        return null;
    }

    private static int digits(String integer) {
        return integer.startsWith("-") ? integer.length() - 1 : integer.length();
    }

    private List<Field> fieldsOf(StringData spec) {
        // The spec is a literal in the job's SQL: parse it once per function instance.
        if (!spec.equals(parsedSpec)) {
            List<Field> parsed = new ArrayList<>();
            for (String entry : spec.toString().split(",")) {
                String[] parts = entry.split(":");
                if (parts.length != 3 || !(parts[1].equals("string") || parts[1].equals("integer"))) {
                    throw new IllegalArgumentException("bad field spec '" + entry + "' (want name:string|integer:max_chars)");
                }
                parsed.add(new Field(parts[0], parts[1].equals("integer"), Integer.parseInt(parts[2])));
            }
            fields = parsed;
            parsedSpec = ((BinaryStringData) spec).copy();
        }
        return fields;
    }

    private static RowData rejected(String reason) {
        return GenericRowData.of(StringData.fromString(reason), null);
    }
}
