/* attn-bench --parallel ring|ulysses: attention spread over the ranks of mpirun
 * (libclattn-mpi), with its own options (bench/parallel.c). */
#ifndef BENCH_PARALLEL_H
#define BENCH_PARALLEL_H

/* Whether the command line asks for --parallel. */
int parallel_wanted(int argc, char **argv);
/* The whole run: MPI_Init to MPI_Finalize. Returns attn-bench's exit code. */
int parallel_main(int argc, char **argv);

#endif
