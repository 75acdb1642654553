/* Shared messages and bounded queues of references to them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bufq.h"

/* An empty ring this small is kept: a chatty client would otherwise pay
 * a malloc and a free for every message it is sent. */
#define RING_KEEP 8

sk__msg_t *sk__msg_alloc(size_t len) {
  if (len > SK__MSG_MAX)
    return NULL;
  sk__msg_t *m = malloc(sizeof *m + len);
  if (!m)
    return NULL;
  m->refs = 1;
  m->len = (uint32_t)len;
  return m;
}

sk__msg_t *sk__msg_new(const void *data, size_t len) {
  sk__msg_t *m = sk__msg_alloc(len);
  if (m && len)
    memcpy(m->data, data, len);
  return m;
}

void sk__msg_unref(sk__msg_t *m) {
  if (m && --m->refs == 0)
    free(m);
}

/* Doubles the ring, straightening it so that head is 0 again. */
static int ring_grow(sk__bufq_t *q) {
  uint32_t cap = q->cap ? q->cap * 2 : 4, i;
  sk__msg_t **ring = malloc(cap * sizeof *ring);
  if (!ring)
    return -ENOMEM;
  for (i = 0; i < q->count; i++)
    ring[i] = q->ring[(q->head + i) % q->cap];
  free(q->ring);
  q->ring = ring;
  q->head = 0;
  q->cap = cap;
  return 0;
}

int sk__bufq_push(sk__bufq_t *q, sk__msg_t *m, size_t limit) {
  size_t cost = (size_t)m->len + SK__BUFQ_ENTRY_COST;
  if (q->bytes > limit || cost > limit - q->bytes)
    return -ENOBUFS;
  if (q->count == q->cap && ring_grow(q) < 0)
    return -ENOMEM;
  q->ring[(q->head + q->count) % q->cap] = sk__msg_ref(m);
  q->count++;
  q->bytes += cost;
  return 0;
}

unsigned sk__bufq_take(sk__bufq_t *q, uv_buf_t *bufs, unsigned max) {
  unsigned n = 0;
  while (n < max && q->inflight + n < q->count) {
    sk__msg_t *m = q->ring[(q->head + q->inflight + n) % q->cap];
    bufs[n++] = uv_buf_init(m->data, m->len);
  }
  q->inflight += n;
  return n;
}

int sk__bufq_write(sk__bufq_t *q, uv_write_t *req, uv_stream_t *s,
                   uv_write_cb cb) {
  uv_buf_t bufs[SK__BUFQ_BATCH];
  if (q->inflight > 0 || q->count == 0)
    return 0;
  unsigned n = sk__bufq_take(q, bufs, SK__BUFQ_BATCH);
  /* uv_write copies the uv_buf_t array, so it may live on the stack. */
  int rc = uv_write(req, s, bufs, n, cb);
  if (rc < 0) {
    q->inflight = 0;
    return rc;
  }
  return 1;
}

/* Removes the entry at the head and returns it. */
static sk__msg_t *ring_shift(sk__bufq_t *q) {
  sk__msg_t *m = q->ring[q->head];
  q->head = (q->head + 1) % q->cap;
  q->count--;
  q->bytes -= (size_t)m->len + SK__BUFQ_ENTRY_COST;
  return m;
}

void sk__bufq_done(sk__bufq_t *q) {
  while (q->inflight > 0) {
    sk__msg_unref(ring_shift(q));
    q->inflight--;
  }
  /* An idle client should cost no ring beyond a small one. */
  if (q->count == 0 && q->cap > RING_KEEP) {
    free(q->ring);
    q->ring = NULL;
    q->cap = q->head = 0;
  }
}

void sk__bufq_clear(sk__bufq_t *q) {
  while (q->count > 0)
    sk__msg_unref(ring_shift(q));
  free(q->ring);
  memset(q, 0, sizeof *q);
}
