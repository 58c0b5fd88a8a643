/* --plot: two panels over the sequence length (log scale), one curve per algorithm and mask
 * (causal dashed): the latency (ms, log scale) above, the throughput (GFLOP/s, linear from 0,
 * with the measured peak and its percentages when there is one) below, since latency shows
 * growth and throughput is what people compare. A standalone SVG written by hand. */
#include <math.h>
#include <stdlib.h>

#include "bench.h"

#define WIDTH 900
#define HEIGHT 900
#define PLOT_LEFT 80
#define PLOT_RIGHT (WIDTH - 250) /* the legend sits to the right of the upper panel */

/* The panels' vertical extents. */
#define LATENCY_TOP 64
#define LATENCY_BOTTOM 440
#define THROUGHPUT_TOP 520
#define THROUGHPUT_BOTTOM 836

/* An axis: value v maps to from + (f(v) - lo) / (hi - lo) * (to - from), f = log10 or none. */
struct axis {
    int log;
    double lo, hi, from, to;
};

static double place(const struct axis *a, double value)
{
    const double v = a->log ? log10(value) : value;
    return a->from + (v - a->lo) / (a->hi - a->lo) * (a->to - a->from);
}

/* What a panel plots of a row. */
struct panel {
    const char *title; /* the y axis */
    double (*value)(const struct bench_row *row);
    int log;
    int top, bottom;
};

static double row_latency(const struct bench_row *row)
{
    return row->ms;
}

static const struct panel latency = {"latency, ms (log scale)", row_latency, 1, LATENCY_TOP,
                                     LATENCY_BOTTOM};
static const struct panel throughput = {"GFLOP/s", row_gflops, 0, THROUGHPUT_TOP,
                                        THROUGHPUT_BOTTOM};

static void write_escaped(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default: fputc(*p, out);
        }
    }
}

/* Rows that can be placed on both panels. */
static int plottable(const struct bench_row *r)
{
    return r->ms > 0 && r->seq_kv > 0 && isfinite(r->ms);
}

static const char *series_color(const struct bench_row *r)
{
    if (r->requested == CLATTN_ALGO_AUTO)
        return "#9467bd";
    switch (r->algo) {
    case CLATTN_ALGO_NAIVE: return "#d62728";
    case CLATTN_ALGO_TILED: return "#1f77b4";
    case CLATTN_ALGO_WINDOWED: return "#2ca02c";
    case CLATTN_ALGO_DECODE: return "#ff7f0e";
    case CLATTN_ALGO_AUTO: break;
    }
    return "#7f7f7f";
}

static void write_title(FILE *out, const struct bench_session *s)
{
    fprintf(out, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", WIDTH / 2);
    fputs("attn-bench on ", out);
    write_escaped(out, s->device.name);
    if (s->peak.measured)
        fprintf(out, " (peak %.1f GFLOP/s, %.1f GB/s)", s->peak.gflops, s->peak.gbps);
    fputs("</text>\n", out);
    const struct bench_row *r = &s->rows.items[0];
    fprintf(out,
            "<text x=\"%d\" y=\"44\" text-anchor=\"middle\" fill=\"#555\">batch %lld, heads %lld, "
            "head_dim %lld, %s; %s, median of %d runs</text>\n",
            WIDTH / 2, (long long)r->batch, (long long)r->heads, (long long)r->head_dim,
            dtype_name(r->dtype), s->clock == BENCH_CLOCK_WALL ? "wall clock" : "device time",
            r->iters);
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Ticks at every sequence length measured, under the panel. */
static int write_x_axis(FILE *out, const struct bench_rows *rows, const struct axis *x,
                        const struct panel *panel)
{
    int64_t *lengths = malloc(rows->count * sizeof *lengths);
    if (!lengths)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < rows->count; i++)
        if (plottable(&rows->items[i]))
            lengths[n++] = rows->items[i].seq_kv;
    qsort(lengths, n, sizeof *lengths, compare_int64);
    for (size_t i = 0; i < n; i++) {
        if (i && lengths[i] == lengths[i - 1])
            continue;
        double px = place(x, (double)lengths[i]);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e0e0e0\"/>\n"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%lld</text>\n",
                px, panel->top, px, panel->bottom, px, panel->bottom + 18,
                (long long)lengths[i]);
    }
    free(lengths);
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">sequence length (keys, log "
                 "scale)</text>\n",
            (PLOT_LEFT + PLOT_RIGHT) / 2, panel->bottom + 40);
    return 0;
}

static void write_y_tick(FILE *out, const struct axis *y, double value, int major)
{
    const double py = place(y, value);
    fprintf(out,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>\n"
            "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
            PLOT_LEFT, py, PLOT_RIGHT, py, major ? "#c8c8c8" : "#eeeeee", PLOT_LEFT - 6, py + 4,
            value);
}

/* Log: ticks at 1, 2 and 5 of every decade, the decades darker. Linear: at a round step. */
static void write_y_axis(FILE *out, const struct axis *y, const struct panel *panel)
{
    if (y->log) {
        static const double steps[] = {1, 2, 5};
        for (int decade = (int)y->lo; decade < (int)y->hi + 1; decade++)
            for (int k = 0; k < 3; k++) {
                double value = steps[k] * pow(10, decade);
                if (log10(value) > y->hi + 1e-9)
                    break;
                write_y_tick(out, y, value, k == 0);
            }
    } else {
        /* about five intervals of 1, 2 or 5 times a power of ten */
        const double rough = (y->hi - y->lo) / 5, unit = pow(10, floor(log10(rough)));
        const double step = rough / unit < 1.5 ? unit : rough / unit < 3.5 ? 2 * unit : 5 * unit;
        for (int k = 0; k * step <= y->hi; k++)
            write_y_tick(out, y, k * step, 1);
    }
    const int mid = (panel->top + panel->bottom) / 2;
    fprintf(out,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">%s"
            "</text>\n",
            24, mid, 24, mid, panel->title);
}

/* The measured FMA peak as a dashed line, and each tick's share of it at the right. */
static void write_peak(FILE *out, const struct axis *y, const struct bench_peak *peak)
{
    const double py = place(y, peak->gflops);
    fprintf(out,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\" "
            "stroke-dasharray=\"2 3\"/>\n"
            "<text x=\"%d\" y=\"%.1f\" fill=\"#333\">measured peak, %.0f GFLOP/s</text>\n",
            PLOT_LEFT, py, PLOT_RIGHT, py, PLOT_LEFT + 6, py - 5, peak->gflops);
    for (int percent = 0; percent <= 100; percent += 25) {
        const double value = peak->gflops * percent / 100;
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" fill=\"#555\">%d%% of peak</text>\n",
                PLOT_RIGHT + 6, place(y, value) + 4, percent);
    }
}

static int compare_rows_by_seq(const void *a, const void *b)
{
    const struct bench_row *x = *(const struct bench_row *const *)a;
    const struct bench_row *y = *(const struct bench_row *const *)b;
    return (x->seq_kv > y->seq_kv) - (x->seq_kv < y->seq_kv);
}

/* Two lines per entry: the algorithm and mask, then the window and query length if any. */
static void write_legend_entry(FILE *out, const struct bench_row *r, int entry)
{
    const int ly = LATENCY_TOP + 8 + 34 * entry, lx = PLOT_RIGHT + 20;
    char label[ROW_LABEL_LEN];
    fprintf(out,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n"
            "<text x=\"%d\" y=\"%d\">%s%s</text>\n",
            lx, ly, lx + 30, ly, series_color(r),
            r->causal ? " stroke-dasharray=\"6 4\"" : "", lx + 38, ly + 4, row_algo_label(r, label),
            r->causal ? ", causal" : "");
    const int windowed = r->window_left >= 0 || r->window_right >= 0;
    if (!windowed && r->seq_q == r->seq_kv)
        return;
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#555\">", lx + 38, ly + 17);
    if (windowed)
        fprintf(out, "window %lld,%lld%s", (long long)r->window_left, (long long)r->window_right,
                r->seq_q != r->seq_kv ? ", " : "");
    if (r->seq_q != r->seq_kv)
        fprintf(out, "seq_q %lld", (long long)r->seq_q);
    fputs("</text>\n", out);
}

/* Each curve: the rows that differ from its first only in their lengths, by length; the
 * legend with the latency panel. */
static int write_series(FILE *out, const struct bench_rows *rows, const struct axis *x,
                        const struct axis *y, const struct panel *panel)
{
    const struct bench_row **points = malloc(rows->count * sizeof *points);
    char *drawn = calloc(rows->count, 1);
    if (!points || !drawn) {
        free(points);
        free(drawn);
        return -1;
    }
    int entry = 0;
    for (size_t first = 0; first < rows->count; first++) {
        const struct bench_row *head = &rows->items[first];
        if (drawn[first] || !plottable(head))
            continue;
        size_t n = 0;
        for (size_t i = first; i < rows->count; i++)
            if (!drawn[i] && plottable(&rows->items[i]) &&
                rows_same_series(head, &rows->items[i])) {
                drawn[i] = 1;
                points[n++] = &rows->items[i];
            }
        qsort(points, n, sizeof *points, compare_rows_by_seq);
        const char *color = series_color(head);
        fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
                color, head->causal ? " stroke-dasharray=\"6 4\"" : "");
        for (size_t i = 0; i < n; i++)
            fprintf(out, "%s%.1f,%.1f", i ? " " : "", place(x, (double)points[i]->seq_kv),
                    place(y, panel->value(points[i])));
        fputs("\"/>\n", out);
        for (size_t i = 0; i < n; i++)
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                    place(x, (double)points[i]->seq_kv), place(y, panel->value(points[i])),
                    color);
        if (panel == &latency)
            write_legend_entry(out, head, entry++);
    }
    free(points);
    free(drawn);
    return 0;
}

/* One panel: its axes, its frame and its curves. */
static int write_panel(FILE *out, const struct bench_session *s, const struct panel *panel,
                       const struct axis *x)
{
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < s->rows.count; i++)
        if (plottable(&s->rows.items[i])) {
            lo = fmin(lo, panel->value(&s->rows.items[i]));
            hi = fmax(hi, panel->value(&s->rows.items[i]));
        }
    struct axis y;
    if (panel->log) {
        y = (struct axis){1, floor(log10(lo)), ceil(log10(hi)), panel->bottom, panel->top};
        if (y.hi <= y.lo)
            y.hi = y.lo + 1;
    } else {
        if (s->peak.measured && s->peak.gflops > hi)
            hi = s->peak.gflops;
        y = (struct axis){0, 0, hi > 0 ? hi * 1.05 : 1, panel->bottom, panel->top};
    }
    if (write_x_axis(out, &s->rows, x, panel))
        return -1;
    write_y_axis(out, &y, panel);
    if (!panel->log && s->peak.measured && s->peak.gflops > 0)
        write_peak(out, &y, &s->peak);
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                 "stroke=\"#333\"/>\n",
            PLOT_LEFT, panel->top, PLOT_RIGHT - PLOT_LEFT, panel->bottom - panel->top);
    return write_series(out, &s->rows, x, &y, panel);
}

int plot_svg_write(FILE *out, const struct bench_session *s)
{
    double min_seq = INFINITY, max_seq = 0;
    for (size_t i = 0; i < s->rows.count; i++) {
        const struct bench_row *r = &s->rows.items[i];
        if (!plottable(r))
            continue;
        min_seq = fmin(min_seq, (double)r->seq_kv);
        max_seq = fmax(max_seq, (double)r->seq_kv);
    }
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                 "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
                 "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
            WIDTH, HEIGHT, WIDTH, HEIGHT, WIDTH, HEIGHT);
    if (max_seq <= 0) {
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no rows to plot</text>\n",
                WIDTH / 2, HEIGHT / 2);
        fputs("</svg>\n", out);
        return ferror(out) ? -1 : 0;
    }
    /* A quarter of a doubling of margin either side; a single length gets one each way. */
    const double x_margin = min_seq == max_seq ? log10(2) : log10(2) / 4;
    const struct axis x = {1, log10(min_seq) - x_margin, log10(max_seq) + x_margin, PLOT_LEFT,
                           PLOT_RIGHT};
    write_title(out, s);
    if (write_panel(out, s, &latency, &x) || write_panel(out, s, &throughput, &x))
        return -1;
    fputs("</svg>\n", out);
    return ferror(out) ? -1 : 0;
}
