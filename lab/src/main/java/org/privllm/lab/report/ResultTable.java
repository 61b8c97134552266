package org.privllm.lab.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Rows of named values, written as {@code NAME.json} (with the {@link RunInfo}), {@code NAME.csv}
 * and {@code NAME.md}. Columns appear in first-seen order.
 */
public final class ResultTable {
    private final String title;
    private final List<Map<String, Object>> rows = new ArrayList<>();

    public ResultTable(String title) {
        this.title = title;
    }

    public ResultTable add(Map<String, ?> row) {
        rows.add(new LinkedHashMap<>(row));
        return this;
    }

    public List<Map<String, Object>> rows() {
        return rows;
    }

    public List<String> columns() {
        LinkedHashSet<String> cols = new LinkedHashSet<>();
        rows.forEach(r -> cols.addAll(r.keySet()));
        return new ArrayList<>(cols);
    }

    /** Writes the three files into {@code dir} and returns their paths. */
    public List<Path> write(Path dir, String name, RunInfo info) {
        try {
            Files.createDirectories(dir);
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("title", title);
            doc.put("run", info.toJson());
            doc.put("rows", rows);
            Path json = dir.resolve(name + ".json"), csv = dir.resolve(name + ".csv"), md = dir.resolve(name + ".md");
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), doc);
            Files.writeString(csv, toCsv());
            Files.writeString(md, toMarkdown(info));
            return List.of(json, csv, md);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write results (" + e.getMessage() + ")", e);
        }
    }

    public String toCsv() {
        List<String> cols = columns();
        StringBuilder sb = new StringBuilder(String.join(",", cols.stream().map(ResultTable::csvCell).toList())).append('\n');
        for (Map<String, Object> r : rows) {
            sb.append(String.join(",", cols.stream().map(c -> csvCell(format(r.get(c)))).toList())).append('\n');
        }
        return sb.toString();
    }

    public String toMarkdown(RunInfo info) {
        List<String> cols = columns();
        StringBuilder sb = new StringBuilder("# ").append(title).append("\n\n");
        if (info != null) {
            sb.append("`").append(info.command()).append("` — privllm ").append(info.version()).append(", model ")
                    .append(info.model()).append(", machine ").append(info.machine()).append("\n\n");
        }
        sb.append("| ").append(String.join(" | ", cols)).append(" |\n");
        sb.append("|").append("---|".repeat(cols.size())).append('\n');
        for (Map<String, Object> r : rows) {
            sb.append("| ").append(String.join(" | ", cols.stream().map(c -> format(r.get(c)).replace("|", "\\|")).toList()))
                    .append(" |\n");
        }
        return sb.toString();
    }

    static String format(Object v) {
        if (v == null) {
            return "";
        }
        if (v instanceof Double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.valueOf(d.longValue()) : String.format("%.4g", d);
        }
        if (v instanceof Float f) {
            return format((double) f);
        }
        return v.toString();
    }

    private static String csvCell(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
