/* The engine: relays started on one caller's loop, each ending on its
 * own; one sk_engine_stop() reaching every one of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "../../src/engine/engine.h"
#include "../../src/engine/relay.h"
#include "sockit/error.h"

typedef struct ended {
  int calls, rc;
  sk_stop_t reason;
  sk_relay_stats_t stats;
} ended_t;

static void on_done(void *arg, int rc, sk_stop_t reason, const char *err,
                    const sk_relay_stats_t *stats) {
  ended_t *d = arg;
  (void)err;
  d->calls++;
  d->rc = rc;
  d->reason = reason;
  d->stats = *stats;
}

/* a[0]/b[0] are joined by the relay; a[1]/b[1] are the far ends. */
static void start(sk_engine_t *e, int a[2], int b[2], ended_t *d) {
  static const sk_relay_opts_t o = {.in_fd = -1, .out_fd = -1,
                                    .shutdown_on_eof = true};
  char err[SK_ERR_LEN];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
  sk_relay_side_t sa = {a[0], a[0], "a", NULL}, sb = {b[0], b[0], "b", NULL};
  assert_int_equal(sk_relay_start(e, err, &sa, &sb, &o, on_done, d), 0);
}

static void close_all(int a[2], int b[2]) {
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
}

/* Two relays on one loop carry their bytes both ways and end on their
 * own (a's EOF carried to b by -N, then b's EOF); uv_run returns once
 * both are gone: they closed every handle of theirs. */
static void test_two_relays_one_loop(void **state) {
  uv_loop_t loop;
  sk_engine_t e;
  int a[2][2], b[2][2];
  ended_t d[2] = {{0}};
  char buf[16];
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  sk_engine_init(&e, &loop, NULL, NULL);
  for (int i = 0; i < 2; i++) {
    start(&e, a[i], b[i], &d[i]);
    assert_int_equal(write(a[i][1], "ping", 4), 4);
    shutdown(a[i][1], SHUT_WR);
    assert_int_equal(write(b[i][1], "pong", 4), 4);
    shutdown(b[i][1], SHUT_WR);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(d[i].calls, 1);
    assert_int_equal(d[i].rc, 0);
    assert_int_equal(d[i].reason, SK_STOP_DONE);
    assert_int_equal(d[i].stats.sent, 4);
    assert_int_equal(d[i].stats.received, 4);
    assert_int_equal(read(b[i][1], buf, sizeof buf), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(read(a[i][1], buf, sizeof buf), 4);
    assert_memory_equal(buf, "pong", 4);
    close_all(a[i], b[i]);
  }
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void stop_cb(uv_timer_t *t) {
  sk_engine_stop(t->data, SK_STOP_SIGINT);
  uv_close((uv_handle_t *)t, NULL);
}

/* One stop call (what main's signal watcher makes) ends every relay on
 * the loop, each with the reason, and the engine keeps it. */
static void test_stop_reaches_every_relay(void **state) {
  uv_loop_t loop;
  uv_timer_t stop;
  sk_engine_t e;
  int a[2][2], b[2][2];
  ended_t d[2] = {{0}};
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  sk_engine_init(&e, &loop, NULL, NULL);
  for (int i = 0; i < 2; i++)
    start(&e, a[i], b[i], &d[i]); /* idle: nothing is ever sent */
  uv_timer_init(&loop, &stop);
  stop.data = &e;
  uv_timer_start(&stop, stop_cb, 0, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(d[i].calls, 1);
    assert_int_equal(d[i].rc, 0);
    assert_int_equal(d[i].reason, SK_STOP_SIGINT);
    close_all(a[i], b[i]);
  }
  assert_int_equal(e.reason, SK_STOP_SIGINT);
  assert_null(e.parts);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A run's end is the engine's one teardown: sk_relay_join returns with
 * every handle left on the loop closed (here a timer some part left
 * stopped), but not the caller's (data == e, as main's signal
 * watchers), which the caller closes itself. */
static void test_run_ends_with_one_teardown(void **state) {
  uv_loop_t loop;
  uv_timer_t left, callers;
  sk_engine_t e;
  int a[2], b[2];
  char err[SK_ERR_LEN];
  static const sk_relay_opts_t o = {.in_fd = -1, .out_fd = -1,
                                    .shutdown_on_eof = true};
  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  sk_engine_init(&e, &loop, NULL, NULL);
  uv_timer_init(&loop, &left); /* stopped: does not keep the loop */
  left.data = NULL;
  uv_timer_init(&loop, &callers);
  callers.data = &e;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
  shutdown(a[1], SHUT_WR);
  shutdown(b[1], SHUT_WR);
  sk_relay_side_t sa = {a[0], a[0], "a", NULL}, sb = {b[0], b[0], "b", NULL};
  assert_int_equal(sk_relay_join(&e, err, &sa, &sb, &o, NULL), 0);
  assert_true(uv_is_closing((uv_handle_t *)&left));
  assert_false(uv_is_closing((uv_handle_t *)&callers));
  assert_int_equal(e.reason, SK_STOP_DONE);
  uv_close((uv_handle_t *)&callers, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  close_all(a, b);
}

/* A down filter that doubles every byte, a few bytes per call, and
 * emits '!' at the source's end: what it carries. */
static ssize_t double_filter(void *arg, const char *in, size_t n, char *out) {
  int *calls = arg;
  (*calls)++;
  if (n == 0) {
    out[0] = '!';
    return 1;
  }
  for (size_t i = 0; i < n; i++)
    out[2 * i] = out[2 * i + 1] = in[i];
  return (ssize_t)(2 * n);
}

/* Side a's own calls: one scripted line, then EOF; writes collected. */
typedef struct script {
  const char *typed;
  bool given;
  char shown[1 << 18];
  size_t shown_len;
} script_t;

static ssize_t script_read(void *arg, char *buf, size_t len) {
  script_t *sc = arg;
  size_t n = strlen(sc->typed);
  if (sc->given)
    return 0;
  assert_true(len >= n);
  memcpy(buf, sc->typed, n);
  sc->given = true;
  return (ssize_t)n;
}

static ssize_t script_write(void *arg, const char *buf, size_t len) {
  script_t *sc = arg;
  assert_true(sc->shown_len + len <= sizeof sc->shown);
  memcpy(sc->shown + sc->shown_len, buf, len);
  sc->shown_len += len;
  return (ssize_t)len;
}

/* The chat client's shape: a filter on the way down (bounded output per
 * read, many reads), side a's reads and writes through its own calls
 * (the editor's), the up direction as typed, then a's EOF carried by -N
 * and b's EOF ending the relay once the filter's carry is delivered. */
static void test_filter_and_side_calls(void **state) {
  static script_t sc = {.typed = "typed line\n"};
  int calls = 0, a[2], b[2];
  char err[SK_ERR_LEN], buf[64], data[100000];
  sk_relay_filter_t f = {double_filter, &calls, 7, 14 + 1};
  sk_relay_io_t io = {script_read, script_write, &sc};
  sk_relay_opts_t o = {.in_fd = -1, .out_fd = -1, .shutdown_on_eof = true,
                       .down_filter = &f, .a_io = &io};
  sk_relay_stats_t st;
  (void)state;
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (char)('a' + i % 26);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
  assert_int_equal(write(b[1], data, sizeof data), (ssize_t)sizeof data);
  shutdown(b[1], SHUT_WR);
  sk_relay_side_t sa = {a[0], a[0], "a", NULL}, sb = {b[0], b[0], "b", NULL};
  assert_int_equal(sk_relay_join(NULL, err, &sa, &sb, &o, &st), 0);
  assert_int_equal(read(b[1], buf, sizeof buf), 11);
  assert_memory_equal(buf, "typed line\n", 11);
  assert_int_equal(read(b[1], buf, sizeof buf), 0); /* -N: FIN */
  assert_int_equal(sc.shown_len, 2 * sizeof data + 1);
  for (size_t i = 0; i < sizeof data; i++)
    assert_int_equal(sc.shown[2 * i + 1], data[i]);
  assert_int_equal(sc.shown[2 * sizeof data], '!');
  assert_true(calls > (int)(sizeof data / 7)); /* in_max bounds a read */
  assert_int_equal(st.sent, 11);
  assert_int_equal(st.received, 2 * sizeof data + 1);
  close_all(a, b);
}

/* A filter does not go with -C (it does its own), nor with datagrams:
 * the start fails, nothing is ignored. */
static void test_filter_with_crlf_refused(void **state) {
  int calls = 0, a[2], b[2];
  char err[SK_ERR_LEN];
  sk_relay_filter_t f = {double_filter, &calls, 7, 15};
  sk_relay_opts_t o = {.in_fd = -1, .out_fd = -1, .crlf = true,
                       .up_filter = &f};
  (void)state;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
  sk_relay_side_t sa = {a[0], a[0], "a", NULL}, sb = {b[0], b[0], "b", NULL};
  assert_int_equal(sk_relay_join(NULL, err, &sa, &sb, &o, NULL), -EINVAL);
  assert_int_equal(calls, 0);
  close_all(a, b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_relays_one_loop),
      cmocka_unit_test(test_stop_reaches_every_relay),
      cmocka_unit_test(test_run_ends_with_one_teardown),
      cmocka_unit_test(test_filter_and_side_calls),
      cmocka_unit_test(test_filter_with_crlf_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
