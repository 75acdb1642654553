/* sockit: UTF-8 checks for the places where bytes become text. */
#ifndef SOCKIT_UTF8_H
#define SOCKIT_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sockit/error.h"

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 when s does not
 * start one: bad lead byte, overlong form, surrogate, past U+10FFFF,
 * or a sequence cut short by len.
 */
SK_API size_t sk_utf8_seq_len(const unsigned char *s, size_t len, uint32_t *cp);

/*
 * Length of the longest prefix of buf that does not end inside a
 * character, so a stream can be cut there without splitting one. Only
 * a truncated but so-far-valid sequence at the end is held back.
 */
SK_API size_t sk_utf8_boundary(const char *buf, size_t len);

/* Worst-case output size of sk_utf8_sanitize for len input bytes. */
#define SK_UTF8_SANITIZED_MAX(len) ((len) * 3 + 1)

/*
 * Copies in to out so that it is safe to show on a terminal: valid
 * UTF-8 passes unchanged; each invalid byte becomes U+FFFD; C0 controls
 * but TAB and LF, DEL and C1 controls become visible Control Pictures
 * (ESC shows as U+241B) or U+FFFD; so do, as U+FFFD, the invisible
 * characters that reorder or hide text: bidi overrides and isolates
 * (U+202A..U+202E, U+2066..U+2069), line and paragraph separators
 * (U+2028, U+2029), zero-width characters (U+200B..U+200D) and the
 * BOM (U+FEFF). Stops before overflowing cap.
 * Returns the bytes written; out is NUL-terminated when cap > 0.
 */
SK_API size_t sk_utf8_sanitize(const char *in, size_t len, char *out, size_t cap);

/*
 * Prints prefix, then text made safe by sk_utf8_sanitize without its
 * line ending, then one newline, as one stdio write. For programs that
 * show what a peer sent. Returns 0, or -1 when out failed.
 */
SK_API int sk_utf8_print_line(FILE *out, const char *prefix, const char *text,
                              size_t len);

/* Number of characters in valid UTF-8 text, or -1 when it is invalid. */
SK_API long sk_utf8_count(const char *s, size_t len);

#endif
