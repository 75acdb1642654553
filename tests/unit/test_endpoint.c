/* The endpoint's watch: libuv stops a uv_poll that met EPOLLERR (a reset)
 * before it calls back, and the same events asked again must start it
 * again, or a relay that waits for poll after a short read never hears
 * of the reset and hangs (480decc; seen 1 time in 12 under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "../../src/engine/endpoint.h"

typedef struct seen {
  int calls, last_status;
} seen_t;

static void on_poll(uv_poll_t *p, int status, int events) {
  sk__endpoint_t *e = p->data;
  seen_t *s = e->owner;
  (void)events;
  s->calls++;
  s->last_status = status;
}

/* A connected TCP pair on loopback: *mine non-blocking, *peer blocking. */
static void tcp_pair(int *mine, int *peer) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(l >= 0);
  assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(l, 1), 0);
  assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
  *peer = socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(connect(*peer, (struct sockaddr *)&a, sizeof a), 0);
  *mine = accept4(l, NULL, NULL, SOCK_NONBLOCK);
  assert_true(*mine >= 0);
  close(l);
}

/* The peer resets; the poll errs and libuv stops it; watching the same
 * events again starts it again, and the reset is heard once more. */
static void test_watch_restarts_after_poll_error(void **state) {
  (void)state;
  uv_loop_t loop;
  sk__endpoint_t e;
  seen_t seen = {0};
  int mine, peer;
  assert_int_equal(uv_loop_init(&loop), 0);
  tcp_pair(&mine, &peer);
  assert_int_equal(sk__endpoint_adopt(&e, &loop, &seen, mine), 0);
  sk__endpoint_watch(&e, UV_READABLE, on_poll);

  struct linger lg = {1, 0}; /* close with RST */
  assert_int_equal(
      setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  close(peer);
  for (int i = 0; i < 100 && seen.calls == 0; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(seen.calls, 1);
  assert_true(seen.last_status < 0); /* EPOLLERR: libuv says UV_EBADF */
  assert_false(uv_is_active((uv_handle_t *)&e.poll));

  sk__endpoint_watch(&e, UV_READABLE, on_poll);
  assert_true(uv_is_active((uv_handle_t *)&e.poll));
  for (int i = 0; i < 100 && seen.calls == 1; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(seen.calls, 2);

  /* the same events on a live watch change nothing */
  sk__endpoint_watch(&e, UV_READABLE, on_poll);
  assert_true(uv_is_active((uv_handle_t *)&e.poll));
  sk__endpoint_watch(&e, 0, NULL);
  assert_false(uv_is_active((uv_handle_t *)&e.poll));

  assert_int_equal(sk__endpoint_close(&e, NULL), 1);
  uv_run(&loop, UV_RUN_DEFAULT);
  close(mine);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_watch_restarts_after_poll_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
