/* attn-bench --startup: how long a new process takes to its first attention, with the disk
 * cache of compiled kernels empty (cold) and filled (warm). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define STARTUP_SEQ 1024

/* What makes a start cold besides clattn's empty cache: the drivers' own caches of compiled
 * kernels, off (PoCL's kernel cache, NVIDIA's compute cache, Mesa's shader cache). They stay
 * off in the warm runs too, so the ratio is what clattn's cache alone gives. */
static const char *const cold_env[][2] = {
    {"POCL_KERNEL_CACHE", "0"},
    {"CUDA_CACHE_DISABLE", "1"},
    {"MESA_SHADER_CACHE_DISABLE", "true"},
};

int startup_child(const struct bench_options *opt)
{
    clattn_context *ctx = NULL;
    clattn_problem *shape = NULL, *problem = NULL;
    clattn_plan *plan = NULL;
    void *tensor[4] = {NULL, NULL, NULL, NULL};
    clattn_status st = clattn_context_create(opt->device, &ctx);
    int rc = st ? fail_clattn(NULL, st, "opening the OpenCL device") : 0;
    if (!rc)
        rc = shape_for_sweep(STARTUP_SEQ, 0, 0, &shape);
    if (!rc)
        rc = shape_with_algorithm(shape, CLATTN_ALGO_TILED, &problem);
    if (!rc && (st = clattn_plan_create(ctx, problem, &plan)))
        rc = fail_clattn(ctx, st, "creating the plan");
    for (int t = CLATTN_TENSOR_Q; t <= CLATTN_TENSOR_O && !rc; t++) {
        size_t bytes = 0;
        if ((st = clattn_problem_tensor_bytes(problem, (clattn_tensor)t, &bytes)))
            rc = fail_clattn(NULL, st, "sizing a tensor");
        else if (!(tensor[t] = calloc(1, bytes))) /* zeros: the values do not change the time */
            rc = fail_host_memory();
    }
    if (!rc && (st = clattn_run_host(plan, tensor[0], tensor[1], tensor[2], tensor[3], NULL)))
        rc = fail_clattn(ctx, st, "running the attention");
    const double done = clock_ms();
    cl_device_id device;
    struct device_info info;
    if (!rc && (st = clattn_context_get_cl(ctx, NULL, &device, NULL)))
        rc = fail_clattn(ctx, st, "getting the OpenCL device");
    if (!rc && !(rc = device_info_query(device, &info))) {
        printf("%.6f %s (%s, driver %s)\n", done, info.name, info.platform, info.driver);
        device_info_free(&info);
    }
    for (int t = 0; t < 4; t++)
        free(tensor[t]);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(problem);
    clattn_problem_destroy(shape);
    const double destroy = clock_ms();
    clattn_context_destroy(ctx); /* this is when the kernels are stored on disk */
    if (!rc)
        printf("%.6f\n", (clock_ms() - destroy) * 1e-3); /* seconds */
    return rc;
}

/* CLATTN_CACHE_DIR=off around --startup keeps clattn's cache off in both runs: the figures of
 * a process that compiles everything, to set beside the cold start with the cache. */
static int cache_off(void)
{
    const char *dir = getenv("CLATTN_CACHE_DIR");
    return dir && strcmp(dir, "off") == 0;
}

/* Runs `--startup-child` with the cache in `dir`; the seconds from fork to its first result
 * go to *seconds, those its context took to be destroyed to *destroy, its device line to
 * `device`. */
static int run_child(const struct bench_options *opt, const char *dir, double *seconds,
                     double *destroy, char *device, size_t device_size)
{
    int fds[2];
    if (pipe(fds) != 0)
        return fail_file("a pipe", "open");
    fflush(NULL); /* or the child's exit would write what is buffered here a second time */
    const double start = clock_ms();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return fail_file("a child process", "start");
    }
    if (pid == 0) {
        char index[16];
        snprintf(index, sizeof index, "%d", opt->device);
        char *argv[] = {"attn-bench", "--startup-child", "--device", index, NULL};
        if (opt->device < 0)
            argv[2] = NULL; /* the library's default device */
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (!cache_off())
            setenv("CLATTN_CACHE_DIR", dir, 1);
        for (size_t i = 0; i < sizeof cold_env / sizeof *cold_env; i++)
            setenv(cold_env[i][0], cold_env[i][1], 1);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "attn-bench: cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(BENCH_EXIT_RUNTIME);
    }
    close(fds[1]);
    char line[1024];
    size_t used = 0;
    ssize_t n;
    while ((n = read(fds[0], line + used, sizeof line - 1 - used)) > 0 ||
           (n < 0 && errno == EINTR))
        used += n > 0 ? (size_t)n : 0;
    close(fds[0]);
    line[used] = '\0';
    int status = 0;
    pid_t waited;
    while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    double done = 0;
    int name_at = 0;
    const char *second = strchr(line, '\n');
    if (waited != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(line, "%lf %n", &done, &name_at) != 1 || !second ||
        sscanf(second, "%lf", destroy) != 1) {
        fprintf(stderr, "attn-bench: --startup: the timed run failed (%s)\n",
                WIFEXITED(status) ? "see above" : "killed by a signal");
        return BENCH_EXIT_RUNTIME;
    }
    line[strcspn(line, "\n")] = '\0';
    snprintf(device, device_size, "%s", line + name_at);
    *seconds = (done - start) * 1e-3;
    return 0;
}

/* Removes the cache directory and the files the children wrote in it (no subdirectories). */
static void remove_dir(const char *path)
{
    DIR *dir = opendir(path);
    if (dir) {
        for (struct dirent *e; (e = readdir(dir));)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(dir), e->d_name, 0);
        closedir(dir);
    }
    if (rmdir(path) != 0)
        fprintf(stderr, "attn-bench: warning: cannot remove %s: %s\n", path, strerror(errno));
}

int startup_run(const struct bench_options *opt)
{
    double *cold = calloc((size_t)opt->iters, sizeof *cold);
    double *warm = calloc((size_t)opt->iters, sizeof *warm);
    double *cold_destroy = calloc((size_t)opt->iters, sizeof *cold_destroy);
    double *warm_destroy = calloc((size_t)opt->iters, sizeof *warm_destroy);
    char device[512] = "";
    const char *tmp = getenv("TMPDIR");
    int rc = cold && warm && cold_destroy && warm_destroy ? 0 : fail_host_memory();
    for (int i = 0; i < opt->iters && !rc; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/attn-bench-startup-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            rc = fail_file(dir, "create");
            break;
        }
        rc = run_child(opt, dir, &cold[i], &cold_destroy[i], device, sizeof device);
        if (!rc)
            rc = run_child(opt, dir, &warm[i], &warm_destroy[i], device, sizeof device);
        remove_dir(dir);
    }
    if (!rc) {
        const double c = median(cold, opt->iters), w = median(warm, opt->iters);
        printf("device: %s\n"
               "start-up to a first attention (tiled, seq %d, %d heads, head_dim %d, f32), "
               "median of %d:\n"
               "  cold  %8.1f ms  (empty clattn cache; PoCL, CUDA and Mesa caches off)\n"
               "  warm  %8.1f ms  (clattn cache filled by the cold run)\n"
               "  warm start %.1fx faster\n"
               "  context destroy %.1f ms cold, %.1f ms warm  (the cold one stores the kernels "
               "that ran)\n",
               device, STARTUP_SEQ, SWEEP_HEADS, SWEEP_HEAD_DIM, opt->iters, 1e3 * c, 1e3 * w,
               c / w, 1e3 * median(cold_destroy, opt->iters),
               1e3 * median(warm_destroy, opt->iters));
        if (cache_off())
            printf("  clattn cache off (CLATTN_CACHE_DIR=off): both runs compiled every "
                   "kernel\n");
    }
    free(cold);
    free(warm);
    free(cold_destroy);
    free(warm_destroy);
    return rc;
}
