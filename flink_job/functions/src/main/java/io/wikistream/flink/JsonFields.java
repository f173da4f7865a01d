package io.wikistream.flink;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

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
 * Parses a message once and checks it against the event contract, so that every message it passes
 * can be stored in every table it feeds, and the job's SQL never re-parses JSON.
 *
 * <p>Flink's JSON_VALUE/JSON_QUERY parse the whole payload on every call; validating eight fields
 * that way cost about 40 parses per event and 82% of the TaskManager's time (bench/profiles/).
 *
 * <p>The contract comes from the SQL call as text, built from wikistream/events.py (one field per
 * entry, entries separated by commas):
 * {@code name:string:max_code_points[:allowed|values]} or {@code name:integer:minimum:maximum}.
 *
 * <p>The payload is raw bytes. It must be strict UTF-8 (no overlong forms, no encoded surrogates)
 * and a JSON object without duplicate keys; each listed field must be present with its kind. A
 * string must be non-empty, at most max_code_points long, hold no control character (PostgreSQL
 * refuses U+0000 in text, and a title holds no control character) and no lone surrogate (its UTF-8
 * form does not exist, so the JDBC driver would silently write '?'), and be one of the allowed
 * values when there is a list. An integer must lie within [minimum, maximum], the range of the
 * column it is stored in. Nothing is normalised: a message is either passed unchanged or rejected.
 *
 * <p>Returns {@code reject_reason}, NULL when the message passed, and {@code fields}: the listed
 * fields in their order, as text (an integer in its decimal spelling), or NULL when rejected.
 *
 * <p>Flink SQL does not share a call between expressions: every reference to the result, in a
 * view or a computed column, calls this function again with the same message. The last message
 * and its result are remembered per thread, so each message is parsed once.
 */
@FunctionHint(
        input = {@DataTypeHint("BYTES"), @DataTypeHint(value = "STRING", bridgedTo = StringData.class), @DataTypeHint("INT")},
        output = @DataTypeHint(
                value = "ROW<reject_reason STRING, fields ARRAY<STRING>>",
                bridgedTo = RowData.class))
public class JsonFields extends ScalarFunction {

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private record Field(String name, boolean integer, int maxCodePoints, BigInteger minimum, BigInteger maximum,
                         Set<String> allowed) {}

    /** The last call on this thread. The payload is a copy: the caller may reuse its buffer. */
    private static final class LastCall {
        byte[] payload;
        StringData spec;
        Integer maxMessageBytes;
        RowData result;
        final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
    }

    private static final ThreadLocal<LastCall> LAST_CALL = ThreadLocal.withInitial(LastCall::new);

    private StringData parsedSpec;
    private List<Field> fields;

    public RowData eval(byte[] payload, StringData spec, Integer maxMessageBytes) {
        LastCall last = LAST_CALL.get();
        if (payload != null && Arrays.equals(payload, last.payload) && spec.equals(last.spec)
                && maxMessageBytes.equals(last.maxMessageBytes)) {
            return last.result;
        }
        RowData result = check(payload, spec, maxMessageBytes, last.utf8);
        last.payload = payload == null ? null : payload.clone();
        if (!spec.equals(last.spec)) {
            // A literal in the job's SQL: copied once per thread, not once per message.
            last.spec = ((BinaryStringData) spec).copy();
        }
        last.maxMessageBytes = maxMessageBytes;
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

    private RowData check(byte[] payload, StringData spec, Integer maxMessageBytes, CharsetDecoder utf8) {
        if (payload == null || payload.length == 0) {
            return rejected("empty message");
        }
        if (payload.length > maxMessageBytes) {
            return rejected("oversized message (over " + maxMessageBytes + " bytes)");
        }
        String text;
        try {
            text = utf8.reset().decode(ByteBuffer.wrap(payload)).toString();
        } catch (CharacterCodingException error) {
            return rejected("invalid UTF-8");
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JsonParseException error) {
            String message = error.getOriginalMessage();
            return rejected(message != null && message.startsWith("Duplicate field") ? "duplicate field" : "not a JSON object");
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
            values[i] = StringData.fromString(field.integer() ? node.bigIntegerValue().toString() : node.textValue());
        }
        return GenericRowData.of(null, new GenericArrayData(values));
    }

    private static String problem(Field field, JsonNode node) {
        if (node == null || node.isNull()) {
            return "missing field: " + field.name();
        }
        if (field.integer()) {
            if (!node.isIntegralNumber()) {
                return "mistyped field: " + field.name() + " (expected integer)";
            }
            BigInteger value = node.bigIntegerValue();
            boolean inRange = value.compareTo(field.minimum()) >= 0 && value.compareTo(field.maximum()) <= 0;
            return inRange ? null : "out of range: " + field.name();
        }
        if (!node.isTextual()) {
            return "mistyped field: " + field.name() + " (expected string)";
        }
        String text = node.textValue();
        if (text.isEmpty()) {
            return "empty field: " + field.name();
        }
        int codePoints = 0;
        for (int i = 0; i < text.length(); codePoints++) {
            char unit = text.charAt(i);
            if (Character.isHighSurrogate(unit) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i += 2;
                continue;
            }
            if (Character.isSurrogate(unit)) {
                return "invalid Unicode (lone surrogate) in field: " + field.name();
            }
            if (Character.getType(unit) == Character.CONTROL) {
                return "control character in field: " + field.name();
            }
            i++;
        }
        if (codePoints > field.maxCodePoints()) {
            return "oversized field: " + field.name();
        }
        if (field.allowed() != null && !field.allowed().contains(text)) {
            return "unknown value in field: " + field.name();
        }
        return null;
    }

    private List<Field> fieldsOf(StringData spec) {
        // The spec is a literal in the job's SQL: parse it once per function instance.
        if (!spec.equals(parsedSpec)) {
            List<Field> parsed = new ArrayList<>();
            for (String entry : spec.toString().split(",")) {
                parsed.add(parseField(entry));
            }
            fields = parsed;
            parsedSpec = ((BinaryStringData) spec).copy();
        }
        return fields;
    }

    private static Field parseField(String entry) {
        String[] parts = entry.split(":", -1);
        if (parts.length == 4 && parts[1].equals("integer")) {
            return new Field(parts[0], true, 0, new BigInteger(parts[2]), new BigInteger(parts[3]), null);
        }
        if ((parts.length == 3 || parts.length == 4) && parts[1].equals("string")) {
            Set<String> allowed = parts.length == 4 ? Set.of(parts[3].split("\\|")) : null;
            return new Field(parts[0], false, Integer.parseInt(parts[2]), null, null, allowed);
        }
        throw new IllegalArgumentException(
                "bad field spec '" + entry + "' (want name:string:max_chars[:a|b] or name:integer:min:max)");
    }

    private static RowData rejected(String reason) {
        return GenericRowData.of(StringData.fromString(reason), null);
    }
}
