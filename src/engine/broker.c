/*
 * The byte modes, both byte-exact: -k (operator input to every client,
 * every client's bytes to out_fd) and --broker (each client's bytes to
 * every other client, operator input to all).
 */
#include <string.h>

#include "hub_int.h"

/* The operator's bytes, as they come (LF as CRLF with -C), to all. */
static void raw_input(sk__hub_t *h, const char *data, size_t len) {
  sk__msg_t *m;
  if (len == 0)
    return;
  if (h->opts.crlf) {
    if ((m = sk__msg_alloc(2 * len)) != NULL)
      m->len = (uint32_t)sk__crlf_convert(data, len, m->data, &h->crlf_last);
  } else {
    m = sk__msg_new(data, len);
  }
  if (!m) {
    sk__hub_notice(h, "operator input: out of memory, %zu bytes lost", len);
    return;
  }
  sk__hub_broadcast(h, m, NULL);
  sk__msg_unref(m);
}

static bool hub_has_output(const sk__hub_t *h) {
  return h->out_open && !h->out_detached;
}

/* -k: a client's bytes go to out_fd only. */
static void keep_data(sk__conn_t *c, const char *data, size_t len) {
  sk__hub_t *h = c->hub;
  if (!hub_has_output(h))
    return;
  sk__msg_t *m = sk__msg_new(data, len);
  if (!m) {
    sk__conn_close(c, UV_ENOMEM);
    return;
  }
  sk__hub_output(h, m);
  sk__msg_unref(m);
}

/* --broker: one copy, referenced by every other client's queue. */
static void broker_data(sk__conn_t *c, const char *data, size_t len) {
  sk__msg_t *m = sk__msg_new(data, len);
  if (!m) {
    sk__conn_close(c, UV_ENOMEM);
    return;
  }
  sk__hub_broadcast(c->hub, m, c);
  sk__hub_output(c->hub, m);
  sk__msg_unref(m);
}

const sk__hub_mode_t sk__hub_keep = {
    .conn_size = sizeof(sk__conn_t),
    .on_data = keep_data,
    .on_input = raw_input,
};

const sk__hub_mode_t sk__hub_broker = {
    .conn_size = sizeof(sk__conn_t),
    .out_drops = true,
    .read_split = true,
    .on_data = broker_data,
    .on_input = raw_input,
};
