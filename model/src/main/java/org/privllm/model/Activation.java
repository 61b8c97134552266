package org.privllm.model;

import java.nio.file.Path;

/** The MLP activations HuggingFace's {@code ACT2FN} offers that GPT-2 checkpoints use. */
public enum Activation {
    GELU_NEW("gelu_new"),
    GELU("gelu"),
    GELU_PYTORCH_TANH("gelu_pytorch_tanh"),
    GELU_FAST("gelu_fast"),
    QUICK_GELU("quick_gelu"),
    RELU("relu"),
    SILU("silu"),
    TANH("tanh");

    final String configName;

    Activation(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    static Activation parse(String name, Path file) {
        for (Activation a : values()) {
            if (a.configName.equals(name)) {
                return a;
            }
        }
        if (name.equals("swish")) {
            return SILU;
        }
        throw new ModelFormatException(file + ": unknown activation_function '" + name
                + "' (supported: gelu_new, gelu, gelu_pytorch_tanh, gelu_fast, quick_gelu, relu, silu, tanh)");
    }


    /** Applies the activation in place to {@code x[0..n)}. */
    public void applyInPlace(float[] x, int from, int to) {
        switch (this) {
            case GELU_NEW, GELU_PYTORCH_TANH -> org.privllm.tensor.Kernels.geluTanh(x, from, to);
            case GELU_FAST -> {
                for (int i = from; i < to; i++) {
                    double v = x[i];
                    x[i] = (float) (0.5 * v * (1.0 + Math.tanh(v * 0.7978845608 * (1.0 + 0.044715 * v * v))));
                }
            }
            case GELU -> {
                for (int i = from; i < to; i++) {
                    double v = x[i];
                    x[i] = (float) (0.5 * v * (1.0 + Erf.erf(v / Math.sqrt(2.0))));
                }
            }
            case QUICK_GELU -> {
                for (int i = from; i < to; i++) {
                    double v = x[i];
                    x[i] = (float) (v / (1.0 + Math.exp(-1.702 * v)));
                }
            }
            case RELU -> {
                for (int i = from; i < to; i++) {
                    x[i] = Math.max(0f, x[i]);
                }
            }
            case SILU -> {
                for (int i = from; i < to; i++) {
                    double v = x[i];
                    x[i] = (float) (v / (1.0 + Math.exp(-v)));
                }
            }
            case TANH -> {
                for (int i = from; i < to; i++) {
                    x[i] = (float) Math.tanh(x[i]);
                }
            }
        }
    }

    /** erf to double precision (W. J. Cody's rational approximations via erfc for large |x|). */
    static final class Erf {
        private Erf() {}

        static double erf(double x) {
            // Abramowitz-Stegun 7.1.26 is too coarse (1e-7); use the series / continued fraction split.
            double ax = Math.abs(x);
            double r;
            if (ax < 2.5) {
                // Maclaurin series: converges fast for |x| < 2.5 to full double precision.
                double term = ax, sum = ax, x2 = ax * ax;
                for (int n = 1; n < 200; n++) {
                    term *= -x2 / n;
                    double add = term / (2 * n + 1);
                    sum += add;
                    if (Math.abs(add) < 1e-17 * Math.abs(sum)) {
                        break;
                    }
                }
                r = 2.0 / Math.sqrt(Math.PI) * sum;
            } else {
                // Continued fraction for erfc, accurate for large |x|.
                double f = 0.0;
                for (int n = 60; n >= 1; n--) {
                    f = n / 2.0 / (ax + f);
                }
                r = 1.0 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
            }
            return x < 0 ? -r : r;
        }
    }
}
