/* Unit tests for io.c: whole writes, exact reads and line reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockit/error.h"
#include "sockit/io.h"
#include "sockit/sock.h"

#define BIG_LEN (6u << 20) /* several MiB through tiny socket buffers */

/* The byte at offset i of the test stream: not periodic in 4 KiB. */
static unsigned char pattern(size_t i) {
  return (unsigned char)((i * 2654435761u) >> 13);
}

static void sleep_us(long us) {
  struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000};
  nanosleep(&ts, NULL);
}

/* A slow reader: small reads with pauses, so the writer meets EAGAIN. */
struct drain {
  int fd;
  size_t got, bad; /* bytes read, and bytes that differed from pattern() */
};

static void *drain_main(void *arg) {
  struct drain *d = arg;
  unsigned char buf[1500];
  ssize_t n;
  for (int i = 0; (n = read(d->fd, buf, sizeof buf)) > 0; i++) {
    for (ssize_t k = 0; k < n; k++)
      d->bad += buf[k] != pattern(d->got + (size_t)k);
    d->got += (size_t)n;
    if (i % 64 == 0)
      sleep_us(200);
  }
  return NULL;
}

/* Writes with a sequence of small chunks from another thread. */
struct dribble {
  int fd;
  const char *data;
  size_t len, chunk;
};

static void *dribble_main(void *arg) {
  struct dribble *d = arg;
  for (size_t off = 0; off < d->len; off += d->chunk) {
    size_t n = d->len - off < d->chunk ? d->len - off : d->chunk;
    if (write(d->fd, d->data + off, n) != (ssize_t)n)
      break;
    sleep_us(100);
  }
  close(d->fd);
  return NULL;
}

static void socket_pair(int type, int sv[2]) {
  assert_int_equal(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
}

/* Sets tiny socket buffers so that writes stop after a few KiB. */
static void shrink_buffers(int fd) {
  int small = 4096;
  assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small),
                   0);
  assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small),
                   0);
}

/* sk_send_all moves MiBs intact through a non-blocking, tiny pipe. */
static void test_send_all_backpressure(void **state) {
  struct drain d = {0};
  pthread_t t;
  int sv[2];
  (void)state;
  unsigned char *big = malloc(BIG_LEN);
  assert_non_null(big);
  for (size_t i = 0; i < BIG_LEN; i++)
    big[i] = pattern(i);
  socket_pair(SOCK_STREAM, sv);
  shrink_buffers(sv[0]);
  shrink_buffers(sv[1]);
  assert_int_equal(sk_fd_set_nonblock(sv[0], true), 0);
  d.fd = sv[1];
  assert_int_equal(pthread_create(&t, NULL, drain_main, &d), 0);
  assert_int_equal(sk_send_all(sv[0], big, BIG_LEN), BIG_LEN);
  close(sv[0]);
  pthread_join(t, NULL);
  close(sv[1]);
  free(big);
  assert_int_equal(d.got, BIG_LEN);
  assert_int_equal(d.bad, 0);
}

/* sk_send_all on a pipe (not a socket) falls back to write(). */
static void test_send_all_pipe(void **state) {
  char buf[16] = "";
  int p[2];
  (void)state;
  assert_int_equal(pipe(p), 0);
  assert_int_equal(sk_send_all(p[1], "pipe data", 9), 9);
  assert_int_equal(sk_read_exact(p[0], buf, 9), 9);
  assert_string_equal(buf, "pipe data");
  close(p[0]);
  close(p[1]);
}

/* sk_send_all reports a reader that went away as -EPIPE, no signal. */
static void test_send_all_epipe(void **state) {
  int sv[2];
  (void)state;
  socket_pair(SOCK_STREAM, sv);
  close(sv[1]);
  assert_int_equal(sk_send_all(sv[0], "x", 1), -EPIPE);
  close(sv[0]);
  assert_int_equal(sk_send_all(sv[0], "x", 1), -EBADF);
}

/* sk_read_exact gathers many small packets into one buffer. */
static void test_read_exact_many_writes(void **state) {
  char data[3000], got[3000];
  struct dribble w;
  pthread_t t;
  int sv[2];
  (void)state;
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (char)pattern(i);
  /* SEQPACKET keeps write boundaries, so each read sees one chunk. */
  socket_pair(SOCK_SEQPACKET, sv);
  w = (struct dribble){
      .fd = sv[1], .data = data, .len = sizeof data, .chunk = 7};
  assert_int_equal(pthread_create(&t, NULL, dribble_main, &w), 0);
  assert_int_equal(sk_read_exact(sv[0], got, sizeof got), sizeof got);
  assert_memory_equal(got, data, sizeof data);
  pthread_join(t, NULL);
  assert_int_equal(sk_read_exact(sv[0], got, 1), 0); /* EOF */
  close(sv[0]);
}

/* sk_read_exact on a non-blocking descriptor waits instead of failing. */
static void test_read_exact_nonblocking(void **state) {
  char got[64];
  struct dribble w = {.data = "0123456789abcdef", .len = 16, .chunk = 3};
  pthread_t t;
  int sv[2];
  (void)state;
  socket_pair(SOCK_STREAM, sv);
  assert_int_equal(sk_fd_set_nonblock(sv[0], true), 0);
  w.fd = sv[1];
  assert_int_equal(pthread_create(&t, NULL, dribble_main, &w), 0);
  assert_int_equal(sk_read_exact(sv[0], got, 16), 16);
  assert_memory_equal(got, "0123456789abcdef", 16);
  pthread_join(t, NULL);
  close(sv[0]);
}

/* At EOF sk_read_exact returns the short count it has. */
static void test_read_exact_short_at_eof(void **state) {
  char got[32];
  int sv[2];
  (void)state;
  socket_pair(SOCK_STREAM, sv);
  assert_int_equal(write(sv[1], "0123456789", 10), 10);
  close(sv[1]);
  assert_int_equal(sk_read_exact(sv[0], got, sizeof got), 10);
  assert_memory_equal(got, "0123456789", 10);
  assert_int_equal(sk_read_exact(sv[0], got, sizeof got), 0);
  close(sv[0]);
  assert_int_equal(sk_read_exact(sv[0], got, 1), -EBADF);
}

/* Sends each string as its own packet, then closes the writing end. */
static int packets(const char *const *chunks, size_t n) {
  int sv[2];
  socket_pair(SOCK_SEQPACKET, sv);
  for (size_t i = 0; i < n; i++) {
    ssize_t len = (ssize_t)strlen(chunks[i]);
    assert_int_equal(write(sv[1], chunks[i], (size_t)len), len);
  }
  close(sv[1]);
  return sv[0];
}

/* Expects the next line to be want (given with its length). */
static void line_is(sk_line_reader_t *r, size_t cap, const char *want,
                    size_t len) {
  char line[SK_LINE_BUF * 2];
  assert_true(cap <= sizeof line);
  assert_int_equal(sk_line_read(r, line, cap), len);
  assert_memory_equal(line, want, len);
  assert_int_equal(line[len], '\0');
}

#define LINE_IS(r, cap, s) line_is(r, cap, s, sizeof s - 1)

/* One read with several lines gives them one by one, then EOF. */
static void test_line_several_in_one_read(void **state) {
  const char *in[] = {"one\ntwo\r\nthree\n"};
  sk_line_reader_t r;
  (void)state;
  sk_line_reader_init(&r, packets(in, 1));
  LINE_IS(&r, 64, "one\n");
  LINE_IS(&r, 64, "two\r\n");
  LINE_IS(&r, 64, "three\n");
  LINE_IS(&r, 64, "");
  LINE_IS(&r, 64, ""); /* EOF stays EOF */
  close(r.fd);
}

/* A line cut across reads is joined; a last line may lack '\n'. */
static void test_line_split_across_reads(void **state) {
  const char *in[] = {"hel", "lo", " world\nne", "xt\nta", "il"};
  sk_line_reader_t r;
  (void)state;
  sk_line_reader_init(&r, packets(in, 5));
  LINE_IS(&r, 64, "hello world\n");
  LINE_IS(&r, 64, "next\n");
  LINE_IS(&r, 64, "tail");
  LINE_IS(&r, 64, "");
  close(r.fd);
}

/* An over-long line is SK_ETOOLONG and dropped; the next one is intact. */
static void test_line_too_long(void **state) {
  const char *in[] = {"short\n0123456789", "0123456789", "0123\nafter\n",
                      "exactly15chars\n", "sixteen---chars\n\n"};
  char line[16];
  sk_line_reader_t r;
  (void)state;
  sk_line_reader_init(&r, packets(in, 5));
  LINE_IS(&r, sizeof line, "short\n");
  assert_int_equal(sk_line_read(&r, line, sizeof line), SK_ETOOLONG);
  assert_string_equal(line, "");
  LINE_IS(&r, sizeof line, "after\n");
  LINE_IS(&r, sizeof line, "exactly15chars\n");
  assert_int_equal(sk_line_read(&r, line, sizeof line), SK_ETOOLONG);
  LINE_IS(&r, sizeof line, "\n");
  LINE_IS(&r, sizeof line, "");
  close(r.fd);
}

/* A line longer than the reader's own buffer is skipped as a whole. */
static void test_line_longer_than_buffer(void **state) {
  size_t big = SK_LINE_BUF * 3 + 5;
  char *text = malloc(big + 8);
  char line[128];
  sk_line_reader_t r;
  int sv[2];
  (void)state;
  assert_non_null(text);
  memset(text, 'x', big);
  memcpy(text + big, "\nok\n", 5);
  socket_pair(SOCK_STREAM, sv);
  sk_line_reader_init(&r, sv[0]);
  struct dribble w = {.fd = sv[1], .data = text, .len = big + 4, .chunk = 1000};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, dribble_main, &w), 0);
  assert_int_equal(sk_line_read(&r, line, sizeof line), SK_ETOOLONG);
  LINE_IS(&r, sizeof line, "ok\n");
  LINE_IS(&r, sizeof line, "");
  pthread_join(t, NULL);
  close(sv[0]);
  free(text);
}

/* NUL bytes are data: the returned length covers them. */
static void test_line_nul_bytes(void **state) {
  sk_line_reader_t r;
  int sv[2];
  (void)state;
  socket_pair(SOCK_STREAM, sv);
  assert_int_equal(write(sv[1], "a\0b\n\0\n", 6), 6);
  close(sv[1]);
  sk_line_reader_init(&r, sv[0]);
  line_is(&r, 64, "a\0b\n", 4);
  line_is(&r, 64, "\0\n", 2);
  LINE_IS(&r, 64, "");
  close(sv[0]);
}

/* A buffer too small for any line is refused; errors are -errno. */
static void test_line_bad_args(void **state) {
  char line[4];
  sk_line_reader_t r;
  (void)state;
  sk_line_reader_init(&r, -1);
  assert_int_equal(sk_line_read(&r, line, 1), -EINVAL);
  assert_int_equal(sk_line_read(&r, line, sizeof line), -EBADF);
}

/* sk_line_strip drops one "\n" or "\r\n" and nothing else. */
static void test_line_strip(void **state) {
  (void)state;
  assert_int_equal(sk_line_strip("abc\n", 4), 3);
  assert_int_equal(sk_line_strip("abc\r\n", 5), 3);
  assert_int_equal(sk_line_strip("abc", 3), 3);
  assert_int_equal(sk_line_strip("abc\n\n", 5), 4);
  assert_int_equal(sk_line_strip("abc\r\r\n", 6), 4);
  assert_int_equal(sk_line_strip("\n", 1), 0);
  assert_int_equal(sk_line_strip("\r\n", 2), 0);
  assert_int_equal(sk_line_strip("", 0), 0);
  /* A lone CR is not a line ending. */
  assert_int_equal(sk_line_strip("abc\r", 4), 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_send_all_backpressure),
      cmocka_unit_test(test_send_all_pipe),
      cmocka_unit_test(test_send_all_epipe),
      cmocka_unit_test(test_read_exact_many_writes),
      cmocka_unit_test(test_read_exact_nonblocking),
      cmocka_unit_test(test_read_exact_short_at_eof),
      cmocka_unit_test(test_line_several_in_one_read),
      cmocka_unit_test(test_line_split_across_reads),
      cmocka_unit_test(test_line_too_long),
      cmocka_unit_test(test_line_longer_than_buffer),
      cmocka_unit_test(test_line_nul_bytes),
      cmocka_unit_test(test_line_bad_args),
      cmocka_unit_test(test_line_strip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
