package org.tinker.track;

import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * W&B's {@code Record} protobufs without generated code: the schema subset in {@code wandb_records.proto}
 * (same names and field numbers as {@code wandb_internal.proto}) becomes protobuf descriptors at class load,
 * and records are built and parsed as {@link DynamicMessage}s against it. Build with {@link #msg}, read with
 * {@link #parse} and the getters below.
 */
final class WandbProto {
    private WandbProto() {}

    static final String PACKAGE = "wandb_internal";
    private static final Map<String, FieldDescriptorProto.Type> SCALARS = Map.of("string", FieldDescriptorProto.Type.TYPE_STRING,
            "int64", FieldDescriptorProto.Type.TYPE_INT64, "int32", FieldDescriptorProto.Type.TYPE_INT32, "uint32",
            FieldDescriptorProto.Type.TYPE_UINT32, "bool", FieldDescriptorProto.Type.TYPE_BOOL, "double",
            FieldDescriptorProto.Type.TYPE_DOUBLE, "bytes", FieldDescriptorProto.Type.TYPE_BYTES);
    private static final Descriptors.FileDescriptor FILE = load();

    /** Parses the subset: {@code message Name { [repeated] type name = N; ... }}, // comments. */
    private static Descriptors.FileDescriptor load() {
        String text;
        try (InputStream in = WandbProto.class.getResourceAsStream("wandb_records.proto")) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("wandb_records.proto is missing from the classpath", e);
        }
        text = text.replaceAll("//[^\n]*", "");
        FileDescriptorProto.Builder file = FileDescriptorProto.newBuilder().setName("wandb_records.proto").setPackage(PACKAGE)
                .setSyntax("proto3");
        Matcher m = Pattern.compile("message\\s+(\\w+)\\s*\\{([^}]*)}").matcher(text);
        Pattern field = Pattern.compile("(repeated\\s+)?(\\w+)\\s+(\\w+)\\s*=\\s*(\\d+)\\s*;");
        while (m.find()) {
            DescriptorProto.Builder msg = DescriptorProto.newBuilder().setName(m.group(1));
            Matcher f = field.matcher(m.group(2));
            while (f.find()) {
                FieldDescriptorProto.Builder fb = FieldDescriptorProto.newBuilder().setName(f.group(3))
                        .setNumber(Integer.parseInt(f.group(4))).setJsonName(f.group(3))
                        .setLabel(f.group(1) != null ? FieldDescriptorProto.Label.LABEL_REPEATED : FieldDescriptorProto.Label.LABEL_OPTIONAL);
                FieldDescriptorProto.Type t = SCALARS.get(f.group(2));
                if (t != null) fb.setType(t);
                else fb.setType(FieldDescriptorProto.Type.TYPE_MESSAGE).setTypeName("." + PACKAGE + "." + f.group(2));
                msg.addField(fb);
            }
            file.addMessageType(msg);
        }
        try {
            return Descriptors.FileDescriptor.buildFrom(file.build(), new Descriptors.FileDescriptor[0]);
        } catch (Descriptors.DescriptorValidationException e) {
            throw new IllegalStateException("wandb_records.proto: " + e.getMessage(), e);
        }
    }

    static Descriptors.Descriptor type(String name) {
        Descriptors.Descriptor d = FILE.findMessageTypeByName(name);
        if (d == null) throw new IllegalArgumentException("no message " + name + " in wandb_records.proto");
        return d;
    }

    /** A message under construction; {@code set} skips nulls, so optional values need no ifs. */
    static final class Msg {
        final DynamicMessage.Builder b;

        private Msg(String type) {
            b = DynamicMessage.newBuilder(type(type));
        }

        Msg set(String field, Object v) {
            if (v == null) return this;
            b.setField(fd(field), value(v));
            return this;
        }

        Msg add(String field, Object v) {
            b.addRepeatedField(fd(field), value(v));
            return this;
        }

        Msg addAll(String field, List<?> vs) {
            vs.forEach(v -> add(field, v));
            return this;
        }

        DynamicMessage build() {
            return b.build();
        }

        private Descriptors.FieldDescriptor fd(String field) {
            Descriptors.FieldDescriptor f = b.getDescriptorForType().findFieldByName(field);
            if (f == null) throw new IllegalArgumentException(b.getDescriptorForType().getName() + " has no field " + field);
            return f;
        }

        private static Object value(Object v) {
            return v instanceof Msg m ? m.build() : v;
        }
    }

    static Msg msg(String type) {
        return new Msg(type);
    }

    /** {@code Record{<field>: message}}: the one-of record types. */
    static byte[] record(String field, Msg inner) {
        return msg("Record").set(field, inner).build().toByteArray();
    }

    /** {@code {key, value_json}} items, e.g. HistoryItem. */
    static Msg item(String type, String key, String valueJson) {
        return msg(type).set("key", key).set("value_json", valueJson);
    }

    static Msg timestamp(long epochMillis) {
        return msg("Timestamp").set("seconds", Math.floorDiv(epochMillis, 1000)).set("nanos", (int) Math.floorMod(epochMillis, 1000) * 1_000_000);
    }

    static DynamicMessage parse(byte[] bytes) throws InvalidProtocolBufferException {
        return DynamicMessage.parseFrom(type("Record"), bytes);
    }

    /** Which record type a Record holds (history, run, exit, ...); null for none this schema knows. */
    static String kind(DynamicMessage record) {
        for (Map.Entry<Descriptors.FieldDescriptor, Object> e : record.getAllFields().entrySet())
            if (e.getKey().getType() == Descriptors.FieldDescriptor.Type.MESSAGE) return e.getKey().getName();
        return null;
    }

    static DynamicMessage sub(DynamicMessage m, String field) {
        return (DynamicMessage) m.getField(m.getDescriptorForType().findFieldByName(field));
    }

    static boolean has(DynamicMessage m, String field) {
        return m.hasField(m.getDescriptorForType().findFieldByName(field));
    }

    static String str(DynamicMessage m, String field) {
        return (String) m.getField(m.getDescriptorForType().findFieldByName(field));
    }

    static long num(DynamicMessage m, String field) {
        return ((Number) m.getField(m.getDescriptorForType().findFieldByName(field))).longValue();
    }

    static double dbl(DynamicMessage m, String field) {
        return ((Number) m.getField(m.getDescriptorForType().findFieldByName(field))).doubleValue();
    }

    static boolean bool(DynamicMessage m, String field) {
        return (Boolean) m.getField(m.getDescriptorForType().findFieldByName(field));
    }

    @SuppressWarnings("unchecked")
    static <T> List<T> list(DynamicMessage m, String field) {
        return (List<T>) m.getField(m.getDescriptorForType().findFieldByName(field));
    }
}
