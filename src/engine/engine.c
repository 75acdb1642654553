/* The loop core: stop, log and teardown, written once for every mode. */
#include <stdarg.h>
#include <stdio.h>

#include "engine.h"

void sk_engine_init(sk_engine_t *e, uv_loop_t *loop, sk_log_cb log,
                    void *log_ctx) {
  *e = (sk_engine_t){.loop = loop, .log = log, .log_ctx = log_ctx};
}

void sk__engine_reason(sk_engine_t *e, sk_stop_t reason) {
  if (e->reason == SK_STOP_NONE)
    e->reason = reason;
}

void sk_engine_stop(sk_engine_t *e, sk_stop_t reason) {
  sk__engine_reason(e, reason);
  if (e->on_stop)
    e->on_stop(e->mode, reason);
}

void sk__engine_log(const sk_engine_t *e, sk_log_level_t level,
                    const char *fmt, ...) {
  char line[512];
  va_list ap;
  if (!e->log)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  e->log(e->log_ctx, level, line);
}

void sk__engine_attach(sk_engine_t *e, void *mode,
                       void (*on_stop)(void *mode, sk_stop_t reason)) {
  e->reason = SK_STOP_NONE;
  e->mode = mode;
  e->on_stop = on_stop;
}

void sk__engine_detach(sk_engine_t *e) {
  e->mode = NULL;
  e->on_stop = NULL;
}

static void close_cb(uv_handle_t *h, void *arg) {
  if (h->data != arg && !uv_is_closing(h))
    uv_close(h, NULL);
}

void sk__engine_close_all(sk_engine_t *e) {
  uv_walk(e->loop, close_cb, e);
  uv_run(e->loop, UV_RUN_DEFAULT);
}
