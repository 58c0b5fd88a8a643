#include "device_list.h"

#include "device_info.h"
#include "diag.h"
#include "format.h"

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

int device_list_print(FILE *out)
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
