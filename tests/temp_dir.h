/* Throw-away folders for tests that need files: kernel sources to break, a program cache to
 * start empty. */
#ifndef CLATTN_TEST_TEMP_DIR_H
#define CLATTN_TEST_TEMP_DIR_H

/* A new, empty folder under /tmp (malloc'ed path); aborts the test on failure. */
char *temp_dir_create(void);

/* Removes the folder, the files in it and the files of its subfolders, and frees `dir`. */
void temp_dir_remove(char *dir);

#endif
