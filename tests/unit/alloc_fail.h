/* Allocation failure injection for the unit tests.
 *
 * The tests link with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, so
 * every allocation made by the test and by the engine's static archive goes
 * through these wrappers (libc's own internal allocations, and those of the
 * cmocka shared library, do not). By default they pass straight through.
 */
#ifndef VIGIL_TEST_ALLOC_FAIL_H
#define VIGIL_TEST_ALLOC_FAIL_H

/* Let N more allocations succeed, then fail every one until
 * alloc_fail_off(). */
void alloc_fail_after(long n);
void alloc_fail_off(void);
/* Allocations refused since the last alloc_fail_after(). */
long alloc_fail_refused(void);

#endif
