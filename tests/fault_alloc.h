/* Allocation faults on demand: the test executable defines clCreateBuffer, which the dynamic
 * linker binds libclattn's (and CLBlast's) calls to ahead of the ICD loader's. It forwards to
 * the real one until told to refuse, and then returns CL_MEM_OBJECT_ALLOCATION_FAILURE as a
 * device that has run out of memory does. Single-threaded tests only. */
#ifndef CLATTN_TEST_FAULT_ALLOC_H
#define CLATTN_TEST_FAULT_ALLOC_H

/* Lets `successes` more allocations through, then refuses every one until fault_alloc_off().
 * Negative: never refuse (the default). */
void fault_alloc_after(int successes);
void fault_alloc_off(void);

/* How many allocations were refused since the last fault_alloc_after(). */
int fault_alloc_refused(void);

#endif
