/* Line assembly over a stream that arrives in arbitrary pieces. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"

void sk__lines_free(sk__lines_t *l) {
  free(l->buf);
  l->buf = NULL;
  l->len = l->cap = 0;
}

/* Passes one whole line; returns 0 to go on or 1 when cb said stop. */
static int emit(size_t max, const char *text, size_t len, sk__line_cb cb,
                void *ctx) {
  if (len > 0 && text[len - 1] == '\r')
    len--;
  if (len > max)
    return cb(ctx, "", 0, true) ? 0 : 1;
  return cb(ctx, text, len, false) ? 0 : 1;
}

/* Appends to the unfinished line, which never needs more than max + 1
 * bytes (the +1 for a '\r' that may precede the newline). */
static int append(sk__lines_t *l, size_t max, const char *p, size_t n) {
  size_t need = (size_t)l->len + n;
  if (need > l->cap) {
    size_t cap = l->cap ? l->cap : 64;
    while (cap < need)
      cap *= 2;
    if (cap > max + 1)
      cap = max + 1;
    char *buf = realloc(l->buf, cap);
    if (!buf) {
      sk__lines_free(l);
      return -ENOMEM;
    }
    l->buf = buf;
    l->cap = (uint32_t)cap;
  }
  memcpy(l->buf + l->len, p, n);
  l->len += (uint32_t)n;
  return 0;
}

/* A newline ends the take bytes at p, after what is already held. */
static int line_end(sk__lines_t *l, size_t max, const char *p, size_t take,
                    sk__line_cb cb, void *ctx) {
  if (l->len == 0)
    return emit(max, p, take, cb, ctx);
  if ((size_t)l->len + take > max + 1) {
    sk__lines_free(l);
    return cb(ctx, "", 0, true) ? 0 : 1;
  }
  int rc = append(l, max, p, take);
  if (rc == 0)
    rc = emit(max, l->buf, l->len, cb, ctx);
  sk__lines_free(l);
  return rc;
}

/* Bytes with no newline yet: keep them, or report the line too long as
 * soon as it is, not when (or if) its newline comes. */
static int line_keep(sk__lines_t *l, size_t max, const char *p, size_t n,
                     sk__line_cb cb, void *ctx) {
  if ((size_t)l->len + n <= max + 1)
    return append(l, max, p, n);
  sk__lines_free(l);
  l->skipping = true;
  return cb(ctx, "", 0, true) ? 0 : 1;
}

int sk__lines_feed(sk__lines_t *l, size_t max, const char *data, size_t len,
                   sk__line_cb cb, void *ctx) {
  const char *p = data, *end = data + len;
  l->used = len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
      return l->skipping ? 0 : line_keep(l, max, p, (size_t)(end - p), cb, ctx);
    int rc = 0;
    if (l->skipping)
      l->skipping = false;
    else
      rc = line_end(l, max, p, (size_t)(nl - p), cb, ctx);
    p = nl + 1;
    if (rc != 0) {
      l->used = (size_t)(p - data);
      return rc;
    }
  }
  return 0;
}

bool sk__lines_flush(sk__lines_t *l, size_t max, sk__line_cb cb, void *ctx) {
  bool go_on = true;
  if (!l->skipping && l->len > 0)
    go_on = emit(max, l->buf, l->len, cb, ctx) == 0;
  sk__lines_free(l);
  return go_on;
}

void sk__lines_finish(sk__lines_t *l, size_t max, sk__line_cb cb, void *ctx) {
  if (!l->skipping && l->len > 0)
    emit(max, l->buf, l->len, cb, ctx);
  sk__lines_free(l);
  l->skipping = false;
}
