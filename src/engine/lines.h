/*
 * sockit (internal): assembles lines from a byte stream that arrives in
 * arbitrary pieces, one byte per read or many lines per read.
 */
#ifndef SOCKIT_LINES_H
#define SOCKIT_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sk__lines {
  char *buf;     /* the unfinished line; NULL while there is none */
  uint32_t len;  /* bytes in buf */
  uint32_t cap;  /* bytes allocated */
  bool skipping; /* inside a line already reported too long */
  size_t used;   /* bytes of the last feed taken: all, unless cb stopped */
} sk__lines_t;

/*
 * Called once per line with its text, without the '\n' and without one
 * '\r' before it. A line of more than max bytes (so counted) is not
 * passed: the call has too_long set and len 0, and the rest of that line
 * is dropped. Returns true to go on, false to drop the data not yet
 * looked at (the sender quit, say).
 */
typedef bool (*sk__line_cb)(void *ctx, const char *text, size_t len,
                            bool too_long);

/*
 * Feeds len bytes. Complete lines that arrive whole in one piece are
 * passed straight from data; only an unfinished tail is copied.
 * Returns 0, 1 when cb stopped early (l->used says how many bytes of
 * data were taken: the rest was not looked at), or -ENOMEM (the
 * unfinished line is lost; the assembler stays usable).
 */
int sk__lines_feed(sk__lines_t *l, size_t max, const char *data, size_t len,
                   sk__line_cb cb, void *ctx);

/* At end of stream: passes an unfinished line, if any, then frees. */
void sk__lines_finish(sk__lines_t *l, size_t max, sk__line_cb cb, void *ctx);

/* Passes an unfinished line, if any, as a whole one (the sender went
 * quiet); returns what cb returned, or true when there was none. */
bool sk__lines_flush(sk__lines_t *l, size_t max, sk__line_cb cb, void *ctx);

/* Frees the unfinished line, if any. */
void sk__lines_free(sk__lines_t *l);

#endif
