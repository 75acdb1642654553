/* sockit: helpers shared inside libsockit only. */
#ifndef SOCKIT_INTERNAL_H
#define SOCKIT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define SK__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SK__PRINTF(f, a)
/* Room for user text quoted in a message: at most 64 bytes, escaped. */
#define SK__QUOTE_LEN (64 * 4 + 8)

/* Quotes at most 64 bytes of user text into out (SK__QUOTE_LEN bytes),
 * escaping what is not printable: a message stays one line. */
const char *sk__quote(char *out, const char *text, size_t len);

#endif

/* Writes one formatted line into err (SK_ERR_LEN bytes) and returns code. */
int sk__fail(char *err, int code, const char *fmt, ...) SK__PRINTF(3, 4);

/* Room for user text quoted in a message: at most 64 bytes, escaped. */
#define SK__QUOTE_LEN (64 * 4 + 8)

/* Quotes at most 64 bytes of user text into out (SK__QUOTE_LEN bytes),
 * escaping what is not printable: a message stays one line. */
const char *sk__quote(char *out, const char *text, size_t len);

#endif
