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

/* Removes the entry at the head and returns it. */
static sk__msg_t *ring_shift(sk__bufq_t *q) {
  sk__msg_t *m = q->ring[q->head];
  q->head = (q->head + 1) % q->cap;
  q->count--;
  q->bytes -= (size_t)m->len + SK__BUFQ_ENTRY_COST;
  return m;
}

unsigned sk__bufq_iov(const sk__bufq_t *q, struct iovec *iov, unsigned max) {
  unsigned n = 0;
  for (; n < max && n < q->count; n++) {
    sk__msg_t *m = q->ring[(q->head + n) % q->cap];
    size_t skip = n == 0 ? q->off : 0;
    iov[n] = (struct iovec){.iov_base = m->data + skip,
                            .iov_len = m->len - skip};
  }
  return n;
}

void sk__bufq_consume(sk__bufq_t *q, size_t n) {
  while (q->count > 0 && n >= q->ring[q->head]->len - q->off) {
    n -= q->ring[q->head]->len - q->off;
    q->off = 0;
    sk__msg_unref(ring_shift(q));
  }
  if (q->count > 0)
    q->off += (uint32_t)n; /* part of the head message */
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
