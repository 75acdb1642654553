/*
 * sockit (internal): messages held once and shared by reference, and the
 * bounded per-connection queues that hold those references.
 */
#ifndef SOCKIT_BUFQ_H
#define SOCKIT_BUFQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* One message, however many queues refer to it: fan-out copies nothing. */
typedef struct sk__msg {
  uint32_t refs;
  uint32_t len;
  char data[];
} sk__msg_t;

/* Largest message; every producer cuts its data well below this. */
#define SK__MSG_MAX (1u << 30)

/*
 * What one queued reference costs against a queue's limit besides its
 * payload, so that a flood of one-byte messages is bounded as well.
 */
#define SK__BUFQ_ENTRY_COST 16

/* Most messages handed to one writev: fewer syscalls, bounded iovec.
 * 256 small chat lines per writev cost 15% less CPU than 64 did. */
#define SK__BUFQ_BATCH 256

/* A message of len bytes for the caller to fill, one reference; NULL on
 * ENOMEM or when len is over SK__MSG_MAX. */
sk__msg_t *sk__msg_alloc(size_t len);

/* A message of len bytes copied from data, one reference; NULL on ENOMEM. */
sk__msg_t *sk__msg_new(const void *data, size_t len);

static inline sk__msg_t *sk__msg_ref(sk__msg_t *m) {
  m->refs++;
  return m;
}

/* Drops one reference; the last one frees the message. */
void sk__msg_unref(sk__msg_t *m);

/*
 * A ring of message references, written from the head: `off` bytes of
 * the head message are out already (a writev may stop mid-message).
 */
typedef struct sk__bufq {
  sk__msg_t **ring; /* cap entries; NULL until the first push */
  uint32_t head, count, cap, off;
  size_t bytes; /* payloads plus SK__BUFQ_ENTRY_COST per entry */
} sk__bufq_t;

/*
 * Appends a reference to m unless q->bytes would pass limit. Returns 0,
 * -ENOBUFS when over the limit, or -ENOMEM; q is unchanged on failure.
 */
int sk__bufq_push(sk__bufq_t *q, sk__msg_t *m, size_t limit);

/* Fills iov with what is left of the first max entries, in order. */
unsigned sk__bufq_iov(const sk__bufq_t *q, struct iovec *iov, unsigned max);

/* n bytes went out from the head: releases the messages wholly out. */
void sk__bufq_consume(sk__bufq_t *q, size_t n);

/* Releases every entry and the ring itself. */
void sk__bufq_clear(sk__bufq_t *q);

#endif
