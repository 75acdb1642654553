/*
 * Unit tests for the hub's pure parts: shared messages and bounded
 * queues (bufq.c), line assembly (lines.c), and the chat's pure helpers,
 * line format and timestamps (chat.c), LF to CRLF (broker.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/hub_int.h"
#include "sockit/error.h"

/* ---- bufq ---- */

/* A message fanned out to three queues is freed only with the last. */
static void test_msg_shared_by_reference(void **state) {
  sk__bufq_t a = {0}, b = {0}, c = {0};
  (void)state;
  sk__msg_t *m = sk__msg_new("hello", 5);
  assert_non_null(m);
  assert_int_equal(sk__bufq_push(&a, m, 1024), 0);
  assert_int_equal(sk__bufq_push(&b, m, 1024), 0);
  assert_int_equal(sk__bufq_push(&c, m, 1024), 0);
  sk__msg_unref(m);
  assert_int_equal(m->refs, 3);
  sk__bufq_clear(&a);
  sk__bufq_clear(&b);
  assert_int_equal(m->refs, 1);
  assert_memory_equal(c.ring[c.head]->data, "hello", 5);
  sk__bufq_clear(&c); /* frees m: ASan would report a leak otherwise */
}

/* The limit counts payload plus a per-entry cost, and a refused push
 * leaves the queue as it was. */
static void test_queue_limit(void **state) {
  sk__bufq_t q = {0};
  (void)state;
  sk__msg_t *m = sk__msg_new("0123456789", 10);
  size_t one = 10 + SK__BUFQ_ENTRY_COST;
  assert_int_equal(sk__bufq_push(&q, m, 3 * one), 0);
  assert_int_equal(sk__bufq_push(&q, m, 3 * one), 0);
  assert_int_equal(sk__bufq_push(&q, m, 3 * one), 0);
  assert_int_equal(sk__bufq_push(&q, m, 3 * one), -ENOBUFS);
  assert_int_equal(q.count, 3);
  assert_int_equal(q.bytes, 3 * one);
  assert_int_equal(m->refs, 4);
  /* Empty messages still cost something: a flood of them is bounded. */
  sk__msg_t *e = sk__msg_new("", 0);
  sk__bufq_t q2 = {0};
  int pushed = 0;
  while (sk__bufq_push(&q2, e, 1600) == 0)
    pushed++;
  assert_int_equal(pushed, 1600 / SK__BUFQ_ENTRY_COST);
  sk__bufq_clear(&q2);
  sk__msg_unref(e);
  sk__bufq_clear(&q);
  sk__msg_unref(m);
}

/* iov() hands out the first max entries in order, across the ring's
 * wrap-around, the head from where a partial write stopped; consume()
 * releases only the messages wholly written. */
static void test_queue_batches_in_order(void **state) {
  sk__bufq_t q = {0};
  sk__msg_t *m[10];
  struct iovec iov[4];
  char text[3] = "a.";
  (void)state;
  for (int i = 0; i < 10; i++) {
    text[0] = (char)('a' + i);
    m[i] = sk__msg_new(text, 2);
  }
  for (int i = 0; i < 3; i++) /* move head past 0 so the ring wraps */
    sk__bufq_push(&q, m[i], 1 << 20);
  assert_int_equal(sk__bufq_iov(&q, iov, 4), 3);
  sk__bufq_consume(&q, 6);
  for (int i = 3; i < 10; i++)
    sk__bufq_push(&q, m[i], 1 << 20);
  assert_int_equal(sk__bufq_iov(&q, iov, 4), 4);
  assert_int_equal(((char *)iov[0].iov_base)[0], 'd');
  sk__bufq_consume(&q, 5); /* d, e and half of f */
  assert_int_equal(q.count, 5);
  assert_int_equal(m[4]->refs, 1);
  assert_int_equal(sk__bufq_iov(&q, iov, 2), 2);
  assert_int_equal(iov[0].iov_len, 1); /* the rest of f */
  assert_int_equal(((char *)iov[0].iov_base)[0], '.');
  assert_int_equal(((char *)iov[1].iov_base)[0], 'g');
  sk__bufq_consume(&q, 1 + 2 * 3);
  assert_int_equal(q.count, 1);
  assert_int_equal(sk__bufq_iov(&q, iov, 4), 1);
  assert_int_equal(((char *)iov[0].iov_base)[0], 'j');
  sk__bufq_consume(&q, 2);
  assert_int_equal(q.count, 0);
  assert_int_equal(q.bytes, 0);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(m[i]->refs, 1);
    sk__msg_unref(m[i]);
  }
  sk__bufq_clear(&q);
}

/* ---- line assembly ---- */

typedef struct seen {
  char lines[16][64];
  int n, too_long, stop_after;
} seen_t;

static bool record_cb(void *ctx, const char *text, size_t len, bool too_long) {
  seen_t *s = ctx;
  if (too_long) {
    s->too_long++;
    snprintf(s->lines[s->n++], 64, "<too long>");
  } else {
    snprintf(s->lines[s->n++], 64, "%.*s", (int)len, text);
  }
  return s->stop_after == 0 || s->n < s->stop_after;
}

/* One read carrying several lines gives each line once, CR stripped. */
static void test_lines_several_per_read(void **state) {
  sk__lines_t l = {0};
  seen_t s = {0};
  (void)state;
  const char *in = "one\ntwo\r\n\nthree";
  assert_int_equal(sk__lines_feed(&l, 100, in, strlen(in), record_cb, &s), 0);
  assert_int_equal(s.n, 3);
  assert_string_equal(s.lines[0], "one");
  assert_string_equal(s.lines[1], "two");
  assert_string_equal(s.lines[2], "");
  assert_int_equal(l.len, 5); /* "three" waits for its newline */
  sk__lines_finish(&l, 100, record_cb, &s);
  assert_string_equal(s.lines[3], "three");
  assert_null(l.buf);
}

/* A line one byte per read, a UTF-8 character split mid-sequence
 * included, comes out whole and once. */
static void test_lines_one_byte_per_read(void **state) {
  sk__lines_t l = {0};
  seen_t s = {0};
  (void)state;
  const char *in = "h\xe4\xbd\xa0\xf0\x9f\x98\x80!\r\n";
  for (size_t i = 0; i < strlen(in); i++)
    assert_int_equal(sk__lines_feed(&l, 100, in + i, 1, record_cb, &s), 0);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.lines[0], "h\xe4\xbd\xa0\xf0\x9f\x98\x80!");
  assert_null(l.buf); /* nothing held between lines */
}

/* A line over max is reported once, as soon as it is too long, and not
 * passed in part; the next line is delivered normally. A CR before the
 * newline does not count against max. */
static void test_lines_too_long(void **state) {
  sk__lines_t l = {0};
  seen_t s = {0};
  char big[40];
  (void)state;
  memset(big, 'x', sizeof big);
  assert_int_equal(sk__lines_feed(&l, 8, big, 20, record_cb, &s), 0);
  assert_int_equal(s.too_long, 1);
  assert_int_equal(sk__lines_feed(&l, 8, big, 20, record_cb, &s), 0);
  assert_int_equal(sk__lines_feed(&l, 8, "xx\nok\n", 6, record_cb, &s), 0);
  assert_int_equal(s.too_long, 1);
  assert_int_equal(s.n, 2);
  assert_string_equal(s.lines[1], "ok");
  /* Exactly max bytes, then CRLF, in pieces: fits. Max + 1: does not. */
  assert_int_equal(sk__lines_feed(&l, 8, "12345678\r", 9, record_cb, &s), 0);
  assert_int_equal(sk__lines_feed(&l, 8, "\n123456789\n", 11, record_cb, &s),
                   0);
  assert_string_equal(s.lines[2], "12345678");
  assert_string_equal(s.lines[3], "<too long>");
  assert_int_equal(s.too_long, 2);
  sk__lines_free(&l);
}

/* A callback returning false (a client that sent /quit) drops the rest
 * of what was read. */
static void test_lines_stop(void **state) {
  sk__lines_t l = {0};
  seen_t s = {.stop_after = 1};
  (void)state;
  assert_int_equal(sk__lines_feed(&l, 100, "a\nb\nc", 5, record_cb, &s), 1);
  assert_int_equal(s.n, 1);
  assert_int_equal(l.used, 2); /* "b\nc" was not looked at */
  /* Fed again from there, as a busy chat room does with kept input. */
  s.stop_after = 0;
  assert_int_equal(sk__lines_feed(&l, 100, "b\nc", 3, record_cb, &s), 0);
  assert_int_equal(l.used, 3);
  assert_string_equal(s.lines[1], "b");
  sk__lines_free(&l);
}

/* An unfinished line is passed whole by a flush (the sender went quiet)
 * and the assembler starts afresh; with nothing held, no call. */
static void test_lines_flush(void **state) {
  sk__lines_t l = {0};
  seen_t s = {0};
  (void)state;
  assert_int_equal(sk__lines_feed(&l, 100, "hel", 3, record_cb, &s), 0);
  assert_int_equal(sk__lines_feed(&l, 100, "lo", 2, record_cb, &s), 0);
  assert_true(sk__lines_flush(&l, 100, record_cb, &s));
  assert_int_equal(s.n, 1);
  assert_string_equal(s.lines[0], "hello");
  assert_null(l.buf);
  assert_true(sk__lines_flush(&l, 100, record_cb, &s));
  assert_int_equal(s.n, 1);
}

/* ---- options ---- */

/* A chat line made safe (up to 3 bytes a byte, plus the name) must fit
 * in half a queue; the broker and -k split reads instead. */
static void test_opts_check(void **state) {
  char err[SK_ERR_LEN];
  sk_hub_opts_t o = {.mode = SK_HUB_CHAT};
  (void)state;
  assert_int_equal(sk_hub_opts_check(err, &o), 0); /* defaults */
  o.max_line = 1 << 20;
  assert_int_equal(sk_hub_opts_check(err, &o), -EINVAL);
  assert_non_null(strstr(err, "--max-queue 1048576 is too small for "
                              "--max-line 1048576"));
  o.max_queue = 2 * (SK__CHAT_LINE_MAX(o.max_line) + SK__BUFQ_ENTRY_COST);
  assert_int_equal(sk_hub_opts_check(err, &o), 0);
  o.max_queue--;
  assert_int_equal(sk_hub_opts_check(err, &o), -EINVAL);
  o = (sk_hub_opts_t){.mode = SK_HUB_CHAT, .max_queue = 8192};
  assert_int_equal(sk_hub_opts_check(err, &o), -EINVAL);
  o.mode = SK_HUB_BROKER;
  assert_int_equal(sk_hub_opts_check(err, &o), 0);
  o.max_queue = 4095;
  assert_int_equal(sk_hub_opts_check(err, &o), -EINVAL);
}

/* ---- chat ---- */

/* Chat lines: one prefix, text made safe, exactly one newline. */
static void test_chat_format(void **state) {
  char out[SK__CHAT_LINE_MAX(64)];
  (void)state;
  size_t n = sk__chat_format(out, sizeof out, "bob", "hi \xe4\xbd\xa0", 6);
  assert_int_equal(n, strlen("<bob> hi \xe4\xbd\xa0\n"));
  assert_memory_equal(out, "<bob> hi \xe4\xbd\xa0\n", n);
  /* ESC, BEL, C1 CSI, invalid UTF-8, NUL: none passes through raw. */
  const char evil[] = "\x1b[2J\x07\xc2\x9b\xff\0x\tend";
  n = sk__chat_format(out, sizeof out, "eve", evil, sizeof evil - 1);
  assert_null(memchr(out, 0x1b, n));
  assert_null(memchr(out, 0x07, n));
  assert_null(memchr(out, 0x00, n));
  assert_null(memchr(out, 0xff, n));
  assert_null(memchr(out, '\n', n - 1));
  assert_int_equal(out[n - 1], '\n');
  assert_non_null(strstr(out, "\xe2\x90\x9b[2J")); /* ESC as U+241B */
  assert_non_null(strstr(out, "\tend"));           /* TAB is kept */
}

static void test_chat_stamp(void **state) {
  char out[21];
  (void)state;
  sk__chat_stamp(out, 1795599662); /* 2026-11-25 09:41:02 UTC */
  assert_string_equal(out, "2026-11-25T09:41:02Z");
}

/* -C: LF becomes CRLF, an existing CRLF stays, even split across reads. */
static void test_crlf_convert(void **state) {
  char out[32];
  int last = 0;
  (void)state;
  size_t n = sk__crlf_convert("a\nb\r", 4, out, &last);
  assert_memory_equal(out, "a\r\nb\r", n);
  n = sk__crlf_convert("\n\n", 2, out, &last);
  assert_memory_equal(out, "\n\r\n", n);
  assert_int_equal(n, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_msg_shared_by_reference),
      cmocka_unit_test(test_queue_limit),
      cmocka_unit_test(test_queue_batches_in_order),
      cmocka_unit_test(test_lines_several_per_read),
      cmocka_unit_test(test_lines_one_byte_per_read),
      cmocka_unit_test(test_lines_too_long),
      cmocka_unit_test(test_lines_stop),
      cmocka_unit_test(test_lines_flush),
      cmocka_unit_test(test_opts_check),
      cmocka_unit_test(test_chat_format),
      cmocka_unit_test(test_chat_stamp),
      cmocka_unit_test(test_crlf_convert),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
