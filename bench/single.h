/* The single problem given by shape flags, run by each algorithm of --algo. */
#ifndef ATTN_BENCH_SINGLE_H
#define ATTN_BENCH_SINGLE_H

#include "session.h"

/* Runs `problem` (from shape_from_options) and, with --save, writes the .npy files. Returns 0
 * or an exit code after printing why. */
int single_run(struct bench_session *s, const clattn_problem *problem);

#endif
