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
  for (sk__part_t *p = e->parts, *next; p; p = next) {
    next = p->next; /* a part may end (and detach) at once */
    p->on_stop(p->mode, reason);
  }
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

void sk__engine_attach(sk_engine_t *e, sk__part_t *part, void *mode,
                       void (*on_stop)(void *mode, sk_stop_t reason)) {
  if (!e->parts)
    e->reason = SK_STOP_NONE;
  *part = (sk__part_t){.on_stop = on_stop, .mode = mode, .next = e->parts};
  if (e->parts)
    e->parts->prev = part;
  e->parts = part;
}

void sk__engine_detach(sk_engine_t *e, sk__part_t *part) {
  if (part->prev)
    part->prev->next = part->next;
  else if (e->parts == part)
    e->parts = part->next;
  else
    return; /* not attached */
  if (part->next)
    part->next->prev = part->prev;
  part->prev = part->next = NULL;
}

static void deadline_cb(uv_timer_t *t) {
  sk__part_t *part = t->data;
  part->on_deadline(part->mode);
}

void sk__engine_deadline(sk_engine_t *e, sk__part_t *part,
                         void (*on_deadline)(void *mode)) {
  if (!part->deadline_ready) {
    uv_timer_init(e->loop, &part->deadline);
    part->deadline_ready = true;
  } else if (part->on_deadline) {
    return; /* the first deadline of the run stands */
  }
  part->deadline.data = part;
  part->on_deadline = on_deadline;
  uv_timer_start(&part->deadline, deadline_cb, SK_ENGINE_FLUSH_MS, 0);
}

int sk__engine_part_close(sk__part_t *part, uv_close_cb cb) {
  if (!part->deadline_ready)
    return 0;
  uv_timer_stop(&part->deadline);
  if (!cb || uv_is_closing((uv_handle_t *)&part->deadline))
    return 0;
  part->deadline.data = part->mode;
  uv_close((uv_handle_t *)&part->deadline, cb);
  return 1;
}

static void close_cb(uv_handle_t *h, void *arg) {
  if (h->data != arg && !uv_is_closing(h))
    uv_close(h, NULL);
}

void sk__engine_close_all(sk_engine_t *e) {
  uv_walk(e->loop, close_cb, e);
  uv_run(e->loop, UV_RUN_DEFAULT);
}
