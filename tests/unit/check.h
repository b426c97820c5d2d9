/* Assertions the unit tests share. cmocka prints integers in hex; this
 * prints decimal, expected against actual. */
#ifndef VIGIL_TEST_CHECK_H
#define VIGIL_TEST_CHECK_H

#define check_eq(actual, expected)                                           \
	do {                                                                 \
		long long a_ = (long long)(actual), e_ = (long long)(expected); \
		if (a_ != e_)                                                \
			fail_msg("%s: expected %lld, got %lld", #actual, e_, a_); \
	} while (0)

#endif
