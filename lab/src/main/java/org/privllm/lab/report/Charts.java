package org.privllm.lab.report;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.LookupPaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.DefaultXYZDataset;
import org.jfree.svg.SVGGraphics2D;

/** Plots written as PNG and SVG side by side (headless; JFreeChart). */
public final class Charts {
    private static final int W = 900, H = 540;

    private Charts() {}

    /** One value per (series, category): grouped bars, or stacked when {@code stacked}. */
    public record Bar(String series, String category, double value) {}

    public static List<Path> bars(Path dir, String name, String title, String valueAxis, List<Bar> bars, boolean stacked) {
        DefaultCategoryDataset ds = new DefaultCategoryDataset();
        bars.forEach(b -> ds.addValue(b.value(), b.series(), b.category()));
        JFreeChart chart = stacked
                ? ChartFactory.createStackedBarChart(title, null, valueAxis, ds, PlotOrientation.VERTICAL, true, false, false)
                : ChartFactory.createBarChart(title, null, valueAxis, ds, PlotOrientation.VERTICAL, true, false, false);
        return save(dir, name, chart);
    }

    /** A heatmap of {@code values[row][col]} (log10 colour scale for errors). */
    public static List<Path> heatmap(Path dir, String name, String title, String rowAxis, String[] rows, String colAxis,
                                     String[] cols, double[][] values) {
        DefaultXYZDataset ds = new DefaultXYZDataset();
        int n = rows.length * cols.length;
        double[][] xyz = new double[3][n];
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (int r = 0, k = 0; r < rows.length; r++) {
            for (int c = 0; c < cols.length; c++, k++) {
                double v = Math.log10(Math.max(values[r][c], 1e-30));
                xyz[0][k] = c;
                xyz[1][k] = r;
                xyz[2][k] = v;
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        ds.addSeries("log10", xyz);
        if (!(hi > lo)) {
            hi = lo + 1;
        }
        LookupPaintScale scale = new LookupPaintScale(lo, hi + 1e-9, Color.GRAY);
        for (int i = 0; i < 64; i++) {
            float t = i / 63f;
            scale.add(lo + (hi - lo) * t, new Color(t, 0.2f + 0.5f * (1 - Math.abs(2 * t - 1)), 1 - t));
        }
        XYBlockRenderer renderer = new XYBlockRenderer();
        renderer.setPaintScale(scale);
        XYPlot plot = new XYPlot(ds, new SymbolAxis(colAxis, cols), new SymbolAxis(rowAxis, rows), renderer);
        JFreeChart chart = new JFreeChart(title, plot);
        chart.removeLegend();
        PaintScaleLegend legend = new PaintScaleLegend(scale, new NumberAxis("log10 max |error|"));
        legend.setPosition(RectangleEdge.RIGHT);
        chart.addSubtitle(legend);
        chart.setBackgroundPaint(Color.WHITE);
        return save(dir, name, chart);
    }

    static List<Path> save(Path dir, String name, JFreeChart chart) {
        try {
            Files.createDirectories(dir);
            Path png = dir.resolve(name + ".png"), svg = dir.resolve(name + ".svg");
            BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            chart.draw(g, new Rectangle(W, H));
            g.dispose();
            ImageIO.write(img, "png", png.toFile());
            SVGGraphics2D s = new SVGGraphics2D(W, H);
            chart.draw(s, new Rectangle(W, H));
            Files.writeString(svg, s.getSVGDocument());
            return List.of(png, svg);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write chart (" + e.getMessage() + ")", e);
        }
    }
}
