#include "save.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"
#include "npy.h"

int save_prepare(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return fail_file(dir, "create the directory");
    struct stat st;
    if (stat(dir, &st) != 0)
        return fail_file(dir, "use the directory");
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return fail_file(dir, "use the directory");
    }
    return 0;
}

/* One tensor; bf16 has no NumPy type, so it is widened to float32 values. */
static int save_tensor(const char *dir, const char *name, clattn_dtype dtype,
                       const int64_t *shape, int ndim, const void *data, size_t bytes)
{
    size_t path_size = strlen(dir) + strlen(name) + 2;
    char *path = malloc(path_size);
    if (!path)
        return fail_host_memory();
    snprintf(path, path_size, "%s/%s", dir, name);
    const void *payload = data;
    float *widened = NULL;
    const char *kind = dtype == CLATTN_DTYPE_F16 ? "f2" : "f4";
    if (dtype == CLATTN_DTYPE_BF16) {
        size_t count = bytes / clattn_dtype_size(dtype);
        widened = malloc(count * sizeof *widened);
        clattn_status st = widened ? clattn_to_float(dtype, data, widened, count)
                                   : CLATTN_ERROR_HOST_OUT_OF_MEMORY;
        if (st) {
            free(widened);
            free(path);
            return st == CLATTN_ERROR_HOST_OUT_OF_MEMORY ? fail_host_memory()
                                                         : fail_clattn(NULL, st, "widening bf16");
        }
        payload = widened;
        bytes = count * sizeof *widened;
    }
    int rc = npy_write(path, kind, shape, ndim, payload, bytes) ? fail_file(path, "write") : 0;
    free(widened);
    free(path);
    return rc;
}

int save_npy_files(const char *dir, const struct bench_inputs *in, const struct bench_row *row)
{
    const int64_t q_shape[4] = {row->batch, row->seq_q, row->heads, row->head_dim};
    const int64_t kv_shape[4] = {row->batch, row->seq_kv, row->kv_heads, row->head_dim};
    const int64_t lse_shape[3] = {row->batch, row->heads, row->seq_q};
    const struct {
        const char *name;
        const int64_t *shape;
        int buffer;
    } tensors[] = {{"q.npy", q_shape, INPUT_Q},
                   {"k.npy", kv_shape, INPUT_K},
                   {"v.npy", kv_shape, INPUT_V},
                   {"o.npy", q_shape, OUTPUT_O}};
    int rc = 0;
    for (size_t t = 0; t < sizeof tensors / sizeof *tensors && !rc; t++)
        rc = save_tensor(dir, tensors[t].name, row->dtype, tensors[t].shape, 4,
                         in->host[tensors[t].buffer], in->bytes[tensors[t].buffer]);
    if (!rc)
        rc = save_tensor(dir, "lse.npy", CLATTN_DTYPE_F32, lse_shape, 3, in->host[OUTPUT_LSE],
                         in->bytes[OUTPUT_LSE]);
    return rc;
}
