/* attn-bench: benchmark and validate clattn's attention algorithms on an OpenCL device.
 * This file is the flow; each step lives in its own file (see bench/meson.build). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "decode.h"
#include "device_list.h"
#include "diag.h"
#include "inputs.h"
#include "kv_cache.h"
#include "parallel.h"
#include "report.h"
#include "save.h"
#include "session.h"
#include "shape.h"
#include "single.h"
#include "startup.h"
#include "sweep.h"
#include "tune.h"

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

static int measure_peak(struct bench_session *s)
{
    clattn_status st = clattn_measure_peak(s->ctx, &s->peak.gflops, &s->peak.gbps);
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

/* The clock every row reads (clock.h), chosen by a fill of 16 MiB (less on a device that
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
           "peak:   %.1f GFLOP/s (f32 FMA), %.1f GB/s (copy: bytes read + written)\n",
           s->device.name, s->device.platform, s->device.driver, s->device.compute_units,
           s->peak.gflops, s->peak.gbps);
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
        rc = measure_peak(&s);
    if (!rc && opt->action == BENCH_ACTION_PEAK) {
        print_peak(&s);
    } else if (!rc && opt->action == BENCH_ACTION_TUNE) {
        rc = tune_run(&s, problem);
    } else if (!rc && opt->decode) {
        rc = decode_run(&s, &decode);
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
