/* A problem descriptor built by an arbitrary sequence of the public setters. */
#ifndef CLATTN_FUZZ_PROBLEM_H
#define CLATTN_FUZZ_PROBLEM_H

#include "clattn.h"
#include "fuzz_input.h"

/* Reads up to `max_ops` setter calls (parameters, strides, scale, clone) from `in`, with any
 * parameter or tensor number, valid or not, and checks after each that a refused call changed
 * nothing and an accepted one reads back. */
clattn_problem *fuzz_problem(fuzz_input *in, int max_ops);

#endif
