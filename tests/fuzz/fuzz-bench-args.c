/* Fuzz target: attn-bench's command line. The input is split at NUL bytes into arguments,
 * each in a buffer of exactly its length (AddressSanitizer sees any read past one), and the
 * error buffer has the length the input's first byte says, 0 included. */
#include "args.h"
#include "fuzz_input.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    const size_t errlen = take_u8(&in);
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = strdup("attn-bench");
    while (in.size && argc < MAX_ARGS) {
        const uint8_t *end = memchr(in.data, 0, in.size);
        const size_t len = end ? (size_t)(end - in.data) : in.size;
        argv[argc] = malloc(len + 1);
        FUZZ_ASSERT(argv[argc]);
        memcpy(argv[argc], in.data, len);
        argv[argc++][len] = '\0';
        in.data += len + (end != NULL);
        in.size -= len + (end != NULL);
    }
    argv[argc] = NULL;
    char *err = malloc(errlen); /* 0 bytes too: writing any of them is an error */
    FUZZ_ASSERT(err || !errlen);
    struct bench_options opt;
    const int rc = bench_parse_args(argc, argv, &opt, err, errlen);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    if (rc && errlen) /* a refusal says why, as much as the buffer holds */
        FUZZ_ASSERT(memchr(err, 0, errlen) && (errlen == 1 || err[0]));
    if (!rc) {
        FUZZ_ASSERT(opt.algo_count >= 1 && opt.algo_count <= BENCH_MAX_ALGOS);
        FUZZ_ASSERT(opt.iters >= 1 && opt.warmup >= 0 && opt.device >= -1);
    }
    FUZZ_ASSERT(bench_usage() && *bench_usage());
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(err);
    return 0;
}
