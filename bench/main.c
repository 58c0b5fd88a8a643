/* attn-bench: benchmark and validate clattn's attention algorithms on an OpenCL device.
 * This file is the flow, and the actions too small for a file of their own (--list-devices,
 * --tune, --peak, --version); bench.h lists the files that hold each step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* ---- --list-devices */

static void print_device(FILE *out, int index, const struct device_info *d, int is_default)
{
    char global[FORMAT_BYTES_LEN], alloc[FORMAT_BYTES_LEN], local[FORMAT_BYTES_LEN];
    fprintf(out,
            "%d: %s / %s: %s, %u compute units, %u MHz, global %s, max alloc %s, local %s %s, "
            "max work-group %zu, fp16 %s, fp64 %s, driver %s%s%s\n",
            index, d->platform, d->name, device_type_name(d->type), d->compute_units,
            d->clock_mhz, format_bytes(global, d->global_mem), format_bytes(alloc, d->max_alloc),
            format_bytes(local, d->local_mem), d->local_mem_dedicated ? "CL_LOCAL" : "CL_GLOBAL",
            d->max_work_group, d->fp16 ? "yes" : "no", d->fp64 ? "yes" : "no", d->driver,
            d->available ? "" : ", NOT AVAILABLE", is_default ? ", default" : "");
}

/* One line per device of clattn's flat list. Returns an exit code: BENCH_EXIT_RUNTIME when no
 * device exists or a query failed (after listing the others). */
static int device_list_print(FILE *out)
{
    int count = 0;
    clattn_status st = clattn_device_count(&count);
    if (st)
        return fail_clattn(NULL, st, "listing OpenCL devices");
    if (count == 0) {
        fprintf(stderr, "attn-bench: no OpenCL device found: is an OpenCL ICD (for example "
                        "pocl-opencl-icd) installed?\n");
        return BENCH_EXIT_RUNTIME;
    }
    /* The default is only a marker here: a bad $CLATTN_DEVICE must not stop the listing. */
    int default_index = -1;
    if (clattn_device_default(&default_index) != CLATTN_SUCCESS)
        default_index = -1;
    int rc = BENCH_EXIT_OK;
    for (int i = 0; i < count; i++) {
        cl_device_id device;
        struct device_info info;
        if ((st = clattn_device_get(i, NULL, &device))) {
            rc = fail_clattn(NULL, st, "listing OpenCL devices");
            continue;
        }
        if (device_info_query(device, &info)) {
            rc = BENCH_EXIT_RUNTIME;
            continue;
        }
        print_device(out, i, &info, i == default_index);
        device_info_free(&info);
    }
    return rc;
}

/* ---- --tune: measures the fused kernels' candidate tiles on the device (clattn_tune) and
 * saves the winners in the per-device tuning file that later runs read. */

/* The sweep's shapes, long enough that a block of keys and rows are what they will be at
 * every length the sweep runs. */
static clattn_problem *sweep_class(int head_dim, int windowed)
{
    clattn_problem *p;
    if (clattn_problem_create(&p))
        return NULL;
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 8);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, 2048);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, 2048);
    clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, head_dim);
    if (windowed) {
        clattn_problem_set(p, CLATTN_PARAM_CAUSAL, 1);
        clattn_problem_set(p, CLATTN_PARAM_WINDOW_LEFT, 256);
        clattn_problem_set(p, CLATTN_PARAM_WINDOW_RIGHT, 0);
        clattn_problem_set(p, CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_WINDOWED);
    } else {
        clattn_problem_set(p, CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_TILED);
    }
    return p;
}

/* clattn_tune keeps Q, K, V and O of the problem on the device, each made from a host copy
 * that it frees once uploaded: checked before it allocates any. */
static int check_memory(struct bench_session *s, const clattn_problem *p)
{
    struct memory_need need = {.what = "clattn_tune's Q, K, V and O"};
    for (int t = CLATTN_TENSOR_Q; t <= CLATTN_TENSOR_O; t++) {
        size_t bytes = 0;
        clattn_status st = clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes);
        if (st)
            return fail_clattn(NULL, st, "sizing the tensors");
        need.device = memory_add(need.device, bytes);
        if (bytes > need.largest)
            need.largest = need.host = bytes;
    }
    return session_check_memory(s, &need);
}

static int tune_one(struct bench_session *s, const clattn_problem *p)
{
    /* one line per candidate: a few dozen candidates fit easily */
    static char report[65536];
    int rc = check_memory(s, p);
    if (rc)
        return rc;
    fprintf(stderr, "tuning (each candidate is a kernel build; this takes a while)...\n");
    clattn_status st = clattn_tune(s->ctx, p, report, sizeof report);
    if (st)
        return fail_clattn(s->ctx, st, "tuning");
    fputs(report, stdout);
    fflush(stdout);
    return 0;
}

/* Tunes `problem` (a single problem from shape flags), or, when it is NULL, the classes of the
 * standard sweep: head_dim 64 and 128 tiled, and head_dim 64 windowed (256,0). Prints each
 * report. Returns 0 or an exit code after printing why. */
static int tune_run(struct bench_session *s, const clattn_problem *problem)
{
    if (problem)
        return tune_one(s, problem);
    static const struct { int head_dim, windowed; } classes[] = {{64, 0}, {128, 0}, {64, 1}};
    for (size_t i = 0; i < sizeof classes / sizeof *classes; i++) {
        clattn_problem *p = sweep_class(classes[i].head_dim, classes[i].windowed);
        if (!p)
            return fail_host_memory();
        int rc = tune_one(s, p);
        clattn_problem_destroy(p);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- The flow */

/* The machine-readable reports, opened before any device work so that a bad path fails at
 * once rather than after a long sweep, and written when every row is in. */
struct report_file {
    const char *path;
    int (*write)(FILE *out, const struct bench_session *s);
    FILE *out;
};

enum { REPORT_JSON, REPORT_CSV, REPORT_PLOT, REPORT_FILES };

static int is_stdout(const char *path)
{
    return strcmp(path, BENCH_STDOUT_PATH) == 0;
}

static int open_reports(struct report_file files[REPORT_FILES])
{
    for (int i = 0; i < REPORT_FILES; i++) {
        if (!files[i].path)
            continue;
        files[i].out = is_stdout(files[i].path) ? stdout : fopen(files[i].path, "w");
        if (!files[i].out)
            return fail_file(files[i].path, "open");
    }
    return 0;
}

/* Writes and closes every report; with `discard` (a failed run), removes them instead so that
 * no partial report looks like a finished one (standard output has had nothing written). */
static int close_reports(struct report_file files[REPORT_FILES], const struct bench_session *s,
                         int discard)
{
    int rc = 0;
    for (int i = 0; i < REPORT_FILES; i++) {
        if (!files[i].out)
            continue;
        int failed = !discard && files[i].write(files[i].out, s) != 0;
        if (files[i].out == stdout) {
            failed |= fflush(stdout) != 0;
        } else {
            failed |= fclose(files[i].out) != 0;
            if (discard)
                remove(files[i].path);
        }
        if (failed && !discard && !rc)
            rc = fail_file(files[i].path, "write");
    }
    return rc;
}

/* argv joined by spaces, for the JSON's "command". */
static char *join_command(int argc, char **argv)
{
    size_t size = 1;
    for (int i = 0; i < argc; i++)
        size += strlen(argv[i]) + 1;
    char *text = malloc(size);
    if (!text)
        return NULL;
    text[0] = '\0';
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(text, " ");
        strcat(text, argv[i]);
    }
    return text;
}

/* The context and what attn-bench reports about its device; the peak is measured apart, once
 * the run is known to fit. */
static int open_device(struct bench_session *s)
{
    const int index = s->opt->device;
    clattn_status st = clattn_context_create(index, &s->ctx);
    if (st) {
        char what[64];
        if (index < 0)
            snprintf(what, sizeof what, "opening the default OpenCL device");
        else
            snprintf(what, sizeof what, "opening OpenCL device %d", index);
        return fail_clattn(NULL, st, what);
    }
    /* a note, not a failure: the kernel cache or tuning file was refused (include/clattn.h) */
    if (clattn_message(s->ctx)[0])
        fprintf(stderr, "attn-bench: warning: %s\n", clattn_message(s->ctx));
    cl_device_id device;
    if ((st = clattn_context_get_cl(s->ctx, NULL, &device, &s->queue)))
        return fail_clattn(s->ctx, st, "getting the OpenCL device");
    return device_info_query(device, &s->device);
}

static int measure_peak(struct bench_session *s, int with_read)
{
    clattn_status st = clattn_measure_peak(s->ctx, &s->peak.gflops, &s->peak.gbps);
    if (!st && with_read)
        st = clattn_measure(s->ctx, CLATTN_PEAK_READ, &s->peak.read_gbps);
    if (st)
        return fail_clattn(s->ctx, st, "measuring the device's peak");
    s->peak.measured = 1;
    return 0;
}

/* The biggest allocations of a single problem or of decode mode, checked against the memory
 * there is before the peak is measured, so that a shape too big fails at once. (The sweep's
 * lengths are checked as they come.) */
static int check_memory_first(struct bench_session *s, const clattn_problem *problem,
                              const struct decode_job *decode)
{
    struct memory_need need;
    int rc = 0;
    if (s->opt->decode)
        rc = kv_cache_need(decode->problem, &decode->layout, s->opt->check, &need);
    else if (problem)
        rc = inputs_need(s, problem, &need);
    else
        return 0;
    return rc ? rc : session_check_memory(s, &need);
}

/* The clock every row reads (clock_choose), chosen by a fill of 16 MiB (less on a device that
 * cannot allocate that much). */
static int choose_clock(struct bench_session *s)
{
    cl_context cl;
    clattn_status st = clattn_context_get_cl(s->ctx, &cl, NULL, NULL);
    if (st)
        return fail_clattn(s->ctx, st, "getting the OpenCL context");
    size_t bytes = (size_t)16 << 20;
    if (bytes > s->device.max_alloc)
        bytes = (size_t)s->device.max_alloc;
    return clock_choose(cl, s->queue, bytes, &s->clock, s->clock_reason,
                        sizeof s->clock_reason);
}

static void print_peak(const struct bench_session *s)
{
    printf("device: %s (%s, driver %s), %u compute units\n"
           "peak:   %.1f GFLOP/s (f32 FMA), %.1f GB/s (copy: bytes read + written), "
           "%.1f GB/s (read)\n",
           s->device.name, s->device.platform, s->device.driver, s->device.compute_units,
           s->peak.gflops, s->peak.gbps, s->peak.read_gbps);
}

/* Everything after the command line was understood: returns the exit code. */
static int bench(const struct bench_options *opt, char *command)
{
    clattn_problem *problem = NULL;
    struct report_file files[REPORT_FILES] = {
        [REPORT_JSON] = {opt->json_path, json_write, NULL},
        [REPORT_CSV] = {opt->csv_path, csv_write, NULL},
        [REPORT_PLOT] = {opt->plot_path, plot_svg_write, NULL},
    };
    struct bench_session s = {.opt = opt,
                              .command = command,
                              .started = time(NULL),
                              .table = bench_report_to_stdout(opt) ? stderr : stdout};
    struct decode_job decode = {0};
    int rc = 0;
    if (opt->action == BENCH_ACTION_RUN) {
        /* shape errors are usage errors: found before any device is opened */
        if (opt->decode)
            rc = decode_prepare(opt, &decode);
        else if (opt->single)
            rc = shape_from_options(opt, &problem);
        if (!rc)
            rc = open_reports(files);
        if (!rc && opt->save_dir)
            rc = save_prepare(opt->save_dir);
    } else if (opt->action == BENCH_ACTION_TUNE && opt->single) {
        rc = shape_from_options(opt, &problem);
        /* the fused algorithm --algo names (tiled or windowed); auto lets the window decide */
        if (!rc && opt->algo_count == 1)
            clattn_problem_set(problem, CLATTN_PARAM_ALGORITHM, opt->algos[0]);
    }
    if (!rc)
        rc = open_device(&s);
    if (!rc && opt->action == BENCH_ACTION_RUN)
        rc = check_memory_first(&s, problem, &decode);
    if (!rc && opt->action == BENCH_ACTION_RUN)
        rc = choose_clock(&s);
    /* --tune reports no rate, so needs no peak */
    if (!rc && opt->action != BENCH_ACTION_TUNE && !opt->no_peak)
        rc = measure_peak(&s, opt->action == BENCH_ACTION_PEAK || opt->decode);
    if (!rc && opt->action == BENCH_ACTION_PEAK) {
        print_peak(&s);
    } else if (!rc && opt->action == BENCH_ACTION_TUNE) {
        rc = tune_run(&s, problem);
    } else if (!rc && opt->decode) {
        rc = decode_run(&s, &decode);
    } else if (!rc && opt->varlen_count) {
        rc = varlen_run(&s);
    } else if (!rc) {
        table_print_header(s.table, &s);
        rc = problem ? single_run(&s, problem) : sweep_run(&s);
    }
    int report_rc = close_reports(files, &s, rc != 0);
    if (!rc)
        rc = report_rc;
    if (!rc && session_any_check_failed(&s))
        rc = BENCH_EXIT_CHECK_FAILED;
    rows_free(&s.rows);
    device_info_free(&s.device);
    clattn_context_destroy(s.ctx);
    clattn_problem_destroy(problem);
    decode_job_free(&decode);
    return rc;
}

int main(int argc, char **argv)
{
#ifdef ATTN_BENCH_MPI
    if (parallel_wanted(argc, argv))
        return parallel_main(argc, argv);
#endif
    struct bench_options opt;
    char err[512];
    if (bench_parse_args(argc, argv, &opt, err, sizeof err))
        return fail_usage(err);
    switch (opt.action) {
    case BENCH_ACTION_HELP:
        for (const char *const *part = bench_usage(); *part; part++)
            fputs(*part, stdout);
        return BENCH_EXIT_OK;
    case BENCH_ACTION_VERSION:
        printf("attn-bench (clattn %s)\n", clattn_version_string());
        return BENCH_EXIT_OK;
    case BENCH_ACTION_LIST_DEVICES: return device_list_print(stdout);
    case BENCH_ACTION_STARTUP: return startup_run(&opt);
    case BENCH_ACTION_STARTUP_CHILD: return startup_child(&opt);
    case BENCH_ACTION_RUN:
    case BENCH_ACTION_PEAK:
    case BENCH_ACTION_TUNE: break;
    }
    char *command = join_command(argc, argv);
    if (!command)
        return fail_host_memory();
    int rc = bench(&opt, command);
    free(command);
    return rc;
}
