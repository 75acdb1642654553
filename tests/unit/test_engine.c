/* The engine: relays started on one caller's loop, each ending on its
 * own; one sk_engine_stop() reaching every one of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_relays_one_loop),
      cmocka_unit_test(test_stop_reaches_every_relay),
      cmocka_unit_test(test_run_ends_with_one_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
