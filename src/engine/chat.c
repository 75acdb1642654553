/*
 * The chat room: whole lines from each client go to the other members
 * of its room as "<name> text", made safe for terminals; out_fd gets
 * the whole conversation with UTC timestamps and room names. Lines are
 * assembled before they are sanitized, so a character split across
 * reads arrives whole. Rooms are in chat_room.c, commands in chat_cmd.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"
#include "federate.h"
#include "sockit/addr.h"
#include "sockit/utf8.h"

#define STAMP_LEN 21                       /* "2026-11-25T09:41:02Z " */
#define ROOM_LEN (SK__CHAT_ROOM_CHARS + 2) /* "#lobby " */
#define LINE_AT (STAMP_LEN + ROOM_LEN)     /* where the line is formatted */

/* ---- pure helpers ---- */

size_t sk__chat_format(char *out, size_t cap, const char *name,
                       const char *text, size_t len) {
  int n = snprintf(out, cap, "<%s> ", name);
  if (n < 0 || (size_t)n + 2 > cap)
    return 0;
  size_t o = (size_t)n;
  o += sk_utf8_sanitize(text, len, out + o, cap - o - 1);
  out[o++] = '\n';
  return o;
}

void sk__chat_stamp(char out[21], time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *sk__chat_quote(char *out, const char *s, size_t len) {
  size_t cut =
      len > SK__CHAT_QUOTE_MAX ? sk_utf8_boundary(s, SK__CHAT_QUOTE_MAX) : len;
  size_t o = sk_utf8_sanitize(s, cut, out, SK__CHAT_QUOTE_CAP - 4);
  if (cut < len)
    memcpy(out + o, "...", 4);
  return out;
}

/* ---- the name tables: one per key, so look-alikes collide ---- */

static size_t name_hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* The link that points at the member whose key k is key, or the NULL
 * ending its chain when there is none. */
static chat_conn_t **name_slot(chat_t *ch, int k, const char *key) {
  chat_conn_t **p = &ch->bucket[k][name_hash(key) & (ch->n_bucket - 1)];
  while (*p && strcmp((*p)->keys[k], key) != 0)
    p = &(*p)->name_next[k];
  return p;
}

/* Doubles the buckets; on ENOMEM the chains just get longer. */
static void name_grow(chat_t *ch) {
  size_t n = ch->n_bucket * 2;
  chat_conn_t **b[SK__NICK_KEYS];
  for (int k = 0; k < SK__NICK_KEYS; k++)
    if ((b[k] = calloc(n, sizeof *b[k])) == NULL) {
      while (k-- > 0)
        free(b[k]);
      return;
    }
  for (int k = 0; k < SK__NICK_KEYS; k++) {
    for (size_t i = 0; i < ch->n_bucket; i++) {
      chat_conn_t *cc = ch->bucket[k][i], *next;
      for (; cc; cc = next) {
        next = cc->name_next[k];
        size_t at = name_hash(cc->keys[k]) & (n - 1);
        cc->name_next[k] = b[k][at];
        b[k][at] = cc;
      }
    }
    free(ch->bucket[k]);
    ch->bucket[k] = b[k];
  }
  ch->n_bucket = n;
}

static void name_add(chat_t *ch, chat_conn_t *cc) {
  if (ch->n_names >= ch->n_bucket)
    name_grow(ch);
  for (int k = 0; k < SK__NICK_KEYS; k++) {
    chat_conn_t **p = name_slot(ch, k, cc->keys[k]);
    cc->name_next[k] = NULL;
    *p = cc;
  }
  ch->n_names++;
}

static void name_del(chat_t *ch, chat_conn_t *cc) {
  if (!cc->keys[0])
    return;
  for (int k = 0; k < SK__NICK_KEYS; k++) {
    chat_conn_t **p =
        &ch->bucket[k][name_hash(cc->keys[k]) & (ch->n_bucket - 1)];
    while (*p && *p != cc)
      p = &(*p)->name_next[k];
    if (*p)
      *p = cc->name_next[k];
  }
  ch->n_names--;
}

/* The member holding any of keys, or NULL. */
static chat_conn_t *name_holder(chat_t *ch,
                                char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES]) {
  for (int k = 0; k < SK__NICK_KEYS; k++) {
    chat_conn_t *cc = *name_slot(ch, k, keys[k]);
    if (cc)
      return cc;
  }
  return NULL;
}

/* The operator's name, in any case or look-alike, is nobody else's. */
static bool name_reserved(chat_t *ch,
                          char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES]) {
  char mine[SK__NICK_KEYS][SK__NICK_KEY_BYTES];
  if (sk__nick_keys(ch->nicks, SK__CHAT_SERVER, strlen(SK__CHAT_SERVER), mine) <
      0)
    return true;
  for (int k = 0; k < SK__NICK_KEYS; k++)
    if (strcmp(keys[k], mine[k]) == 0)
      return true;
  return false;
}

int sk__chat_name_keys(chat_t *ch, const char *name, size_t len,
                       char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES]) {
  char norm[SK__NICK_BYTES + 1];
  const char *why;
  size_t n;
  if (sk__nick_normalize(ch->nicks, name, len, norm, &n, &why) < 0 ||
      sk__nick_keys(ch->nicks, norm, n, keys) < 0)
    return -1;
  return 0;
}

chat_conn_t *sk__chat_find(chat_t *ch, const char *name, size_t len) {
  char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES];
  if (sk__chat_name_keys(ch, name, len, keys) < 0)
    return NULL;
  return name_holder(ch, keys);
}

/* Gives cc the normalised name norm and its keys; -ENOMEM changes
 * nothing. */
static int name_set(chat_conn_t *cc, const char *norm, size_t n,
                    char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES]) {
  chat_t *ch = sk__chat_of(cc->base.hub);
  char *dup[SK__NICK_KEYS];
  for (int k = 0; k < SK__NICK_KEYS; k++)
    if ((dup[k] = strdup(keys[k])) == NULL) {
      while (k-- > 0)
        free(dup[k]);
      return -ENOMEM;
    }
  name_del(ch, cc);
  for (int k = 0; k < SK__NICK_KEYS; k++) {
    free(cc->keys[k]);
    cc->keys[k] = dup[k];
  }
  memcpy(cc->name, norm, n);
  cc->name[n] = '\0';
  cc->name_len = (uint8_t)n;
  name_add(ch, cc);
  return 0;
}

int sk__chat_rename(chat_conn_t *cc, const char *name, size_t len,
                    const char **why) {
  chat_t *ch = sk__chat_of(cc->base.hub);
  char norm[SK__NICK_BYTES + 1], keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES];
  size_t n;
  if (sk__nick_normalize(ch->nicks, name, len, norm, &n, why) < 0)
    return -EINVAL;
  *why = "is too complex to compare";
  if (sk__nick_keys(ch->nicks, norm, n, keys) < 0)
    return -EINVAL;
  chat_conn_t *holder = name_holder(ch, keys);
  *why = holder == cc ? "is yours already" : "is taken";
  if (holder == cc && n == cc->name_len && memcmp(norm, cc->name, n) == 0)
    return -EALREADY;
  if ((holder && holder != cc) || name_reserved(ch, keys) ||
      sk__fed_taken(cc->base.hub, keys))
    return -EEXIST;
  *why = "could not be stored";
  return name_set(cc, norm, n, keys) < 0 ? -ENOMEM : 0;
}

/* ---- sending ---- */

char *sk__chat_line(const sk__hub_t *h) {
  return sk__chat_of(h)->scratch + LINE_AT;
}

size_t sk__chat_line_cap(const sk__hub_t *h) {
  return sk__chat_of(h)->scratch_cap - LINE_AT;
}

/* Formats into the chat's line scratch; returns the bytes kept. */
static size_t chat_vprintf(sk__hub_t *h, const char *fmt, va_list ap) {
  size_t cap = sk__chat_line_cap(h);
  int n = vsnprintf(sk__chat_line(h), cap, fmt, ap);
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t sk__chat_printf(sk__hub_t *h, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = chat_vprintf(h, fmt, ap);
  va_end(ap);
  return n;
}

/* The line, timestamped and marked with its room, to the log. */
static void chat_log(sk__hub_t *h, size_t len, const chat_room_t *r) {
  char *line = sk__chat_line(h), *start = line;
  sk__msg_t *m;
  if (r) {
    start -= r->name_len + 1;
    memcpy(start, r->name, r->name_len);
    start[r->name_len] = ' ';
  }
  start -= STAMP_LEN;
  char stamp[STAMP_LEN];
  sk__chat_stamp(stamp, time(NULL));
  memcpy(start, stamp, STAMP_LEN - 1);
  start[STAMP_LEN - 1] = ' ';
  if ((m = sk__msg_new(start, (size_t)(line - start) + len))) {
    sk__hub_output(h, m);
    sk__msg_unref(m);
  }
}

void sk__chat_emit(sk__hub_t *h, size_t len, chat_room_t *r,
                   const chat_conn_t *except, int to) {
  sk__msg_t *m;
  if (len == 0)
    return;
  if (r && (to & SK__TO_MEMBERS) && r->on_turn)
    sk__chat_room_notes_flush(h, r);
  if (r && (to & (SK__TO_MEMBERS | SK__TO_HISTORY)) &&
      (m = sk__msg_new(sk__chat_line(h), len))) {
    if (to & SK__TO_MEMBERS)
      sk__chat_room_send(r, m, except);
    if (to & SK__TO_HISTORY)
      sk__chat_room_remember(h, r, m);
    sk__msg_unref(m);
  }
  if (r && (to & SK__TO_FED))
    sk__fed_say(h, r, sk__chat_line(h), len);
  if ((to & SK__TO_LOG) && h->out_open)
    chat_log(h, len, r);
}

void sk__chat_tell(chat_conn_t *cc, const char *fmt, ...) {
  char buf[SK__CHAT_WHO_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0)
    sk__conn_send_copy(&cc->base, buf,
                       (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void sk__chat_op_tell(sk__hub_t *h, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = chat_vprintf(h, fmt, ap);
  va_end(ap);
  if (n > 0)
    sk__chat_emit(h, n, NULL, NULL, SK__TO_LOG);
}

/* Asks the hub to stop as a signal would, with SK_STOP_DONE (exit 0):
 * the hub then closes every client politely once its queue is sent. */
void sk__chat_stop(sk__hub_t *h) {
  if (h->stop_requested)
    return;
  h->stop_requested = true;
  h->reason = SK_STOP_DONE;
  sk__hub_kick(h);
}

/* ---- lines from clients and from the operator ---- */

static bool chat_line_cb(void *ctx, const char *text, size_t len,
                         bool too_long) {
  chat_conn_t *cc = ctx;
  sk__hub_t *h = cc->base.hub;
  if (cc->base.state != SK__CONN_OPEN)
    return false;
  if (too_long) {
    sk__chat_tell(cc, "*** line over %zu bytes not delivered\n",
                  h->opts.max_line);
  } else if (len > 0 && text[0] == '/' && (len < 2 || text[1] != '/')) {
    sk__chat_command(cc, text, len);
  } else if (cc->room) {
    if (len > 1 && text[0] == '/') /* "//x" says "/x" */
      text++, len--;
    size_t n = sk__chat_format(sk__chat_line(h), sk__chat_line_cap(h), cc->name,
                               text, len);
    sk__chat_emit(h, n, cc->room, cc,
                  SK__TO_MEMBERS | SK__TO_LOG | SK__TO_HISTORY | SK__TO_FED);
  }
  /* A queue past half: the rest of this read waits (chat_keep), so that
   * one read of many lines cannot overflow a healthy reader. */
  return cc->base.state == SK__CONN_OPEN && !sk__hub_busy(h);
}

/* ---- lines without a newline: delivered after SK__CHAT_PARTIAL_MS ---- */

static void quiet_unlink(chat_t *ch, chat_conn_t *cc) {
  if (!cc->quiet_on)
    return;
  cc->quiet_on = false;
  *(cc->quiet_prev ? &cc->quiet_prev->quiet_next : &ch->quiet_head) =
      cc->quiet_next;
  *(cc->quiet_next ? &cc->quiet_next->quiet_prev : &ch->quiet_tail) =
      cc->quiet_prev;
}

static void quiet_cb(uv_timer_t *t);

/* After each read: a member with an unfinished line goes to the end of
 * the list (which stays ordered by quiet_at), one without leaves it. */
static void quiet_touch(chat_t *ch, chat_conn_t *cc) {
  sk__hub_t *h = cc->base.hub;
  quiet_unlink(ch, cc);
  if (cc->lines.len == 0 || cc->base.state != SK__CONN_OPEN)
    return;
  cc->quiet_on = true;
  cc->quiet_at = uv_now(h->loop);
  cc->quiet_next = NULL;
  cc->quiet_prev = ch->quiet_tail;
  *(ch->quiet_tail ? &ch->quiet_tail->quiet_next : &ch->quiet_head) = cc;
  ch->quiet_tail = cc;
  if (!uv_is_active((uv_handle_t *)&ch->quiet_timer))
    uv_timer_start(&ch->quiet_timer, quiet_cb, SK__CHAT_PARTIAL_MS, 0);
}

/* One timer for every unfinished line: the oldest sets its deadline. */
static void quiet_cb(uv_timer_t *t) {
  sk__hub_t *h = t->data;
  chat_t *ch = h->mode_data;
  uint64_t now = uv_now(h->loop), wait = SK__CHAT_PARTIAL_MS;
  chat_conn_t *cc;
  while ((cc = ch->quiet_head) != NULL && !sk__hub_busy(h)) {
    if (now - cc->quiet_at < SK__CHAT_PARTIAL_MS) {
      wait = cc->quiet_at + SK__CHAT_PARTIAL_MS - now;
      break;
    }
    quiet_unlink(ch, cc);
    cc->flushed = true;
    sk__lines_flush(&cc->lines, h->opts.max_line, chat_line_cb, cc);
  }
  if (ch->quiet_head)
    uv_timer_start(t, quiet_cb, wait, 0);
}

/* ---- reading ---- */

/* Keeps what a busy room stopped chat_line_cb from looking at; no client
 * is read until chat_held has taken it, so at most one read is kept. */
static void chat_keep(chat_conn_t *cc, const char *rest, size_t n) {
  if (n == 0)
    return;
  if ((cc->kept = malloc(n)) == NULL) {
    sk__conn_close(&cc->base, UV_ENOMEM);
    return;
  }
  memcpy(cc->kept, rest, n);
  cc->kept_len = n;
  sk__conn_hold(&cc->base);
}

static void chat_data(sk__conn_t *c, const char *data, size_t len) {
  chat_conn_t *cc = (chat_conn_t *)c;
  if (cc->flushed) { /* the newline of a line already delivered whole */
    cc->flushed = false;
    size_t skip = len > 1 && data[0] == '\r' && data[1] == '\n' ? 2
                  : data[0] == '\n'                             ? 1
                                                                : 0;
    data += skip;
    len -= skip;
  }
  int rc = sk__lines_feed(&cc->lines, c->hub->opts.max_line, data, len,
                          chat_line_cb, cc);
  if (rc < 0)
    sk__conn_close(c, UV_ENOMEM);
  else if (rc == 1 && c->state == SK__CONN_OPEN && sk__hub_busy(c->hub))
    chat_keep(cc, data + cc->lines.used, len - cc->lines.used);
  quiet_touch(sk__chat_of(c->hub), cc);
}

/* The room has room again: the kept input goes on where it stopped. */
static void chat_held(sk__conn_t *c) {
  chat_conn_t *cc = (chat_conn_t *)c;
  char *kept = cc->kept;
  size_t n = cc->kept_len;
  cc->kept = NULL;
  cc->kept_len = 0;
  chat_data(c, kept, n); /* may keep a part of it again */
  free(kept);
  if (!cc->kept)
    sk__conn_unhold(c);
}

static void chat_eof(sk__conn_t *c) {
  chat_conn_t *cc = (chat_conn_t *)c;
  quiet_unlink(sk__chat_of(c->hub), cc);
  sk__lines_finish(&cc->lines, c->hub->opts.max_line, chat_line_cb, cc);
}

/* The operator: "/cmd" is a command (chat_cmd.c), "//x" says "/x", and
 * any other line is said as <server> in the lobby. */
static bool op_line_cb(void *ctx, const char *text, size_t len, bool too_long) {
  sk__hub_t *h = ctx;
  if (too_long) {
    sk__hub_notice(h, "line over %zu bytes not delivered", h->opts.max_line);
    return true;
  }
  if (len > 0 && text[0] == '/' && (len < 2 || text[1] != '/')) {
    sk__chat_op_command(h, text, len);
    return !sk__hub_busy(h) && !h->stop_requested;
  }
  if (len > 1 && text[0] == '/')
    text++, len--;
  size_t n = sk__chat_format(sk__chat_line(h), sk__chat_line_cap(h),
                             SK__CHAT_SERVER, text, len);
  sk__chat_emit(h, n, sk__chat_of(h)->lobby, NULL,
                SK__TO_MEMBERS | SK__TO_LOG | SK__TO_HISTORY | SK__TO_FED);
  return !sk__hub_busy(h); /* as chat_line_cb: the rest waits */
}

static void chat_input(sk__hub_t *h, const char *data, size_t len) {
  chat_t *ch = sk__chat_of(h);
  sk__lines_t *l = &ch->op_lines;
  int rc = len == 0
               ? 0
               : sk__lines_feed(l, h->opts.max_line, data, len, op_line_cb, h);
  if (rc == 1 && (l->used == len || h->stop_requested))
    rc = 0; /* stopped at the last line, or after /shutdown: none left */
  if (len == 0)
    sk__lines_finish(l, h->opts.max_line, op_line_cb, h);
  else if (rc < 0)
    sk__hub_notice(h, "operator input: %s", strerror(ENOMEM));
  else if (rc == 1 && (ch->op_kept = malloc(len - l->used)) == NULL)
    sk__hub_notice(h, "operator input: %s", strerror(ENOMEM));
  else if (rc == 1) { /* taken by chat_turn once queues have room */
    memcpy(ch->op_kept, data + l->used, len - l->used);
    ch->op_kept_len = len - l->used;
    sk__hub_input_hold(h, true);
  }
}

/* The operator's input kept by chat_input, once the room has room. */
static void chat_input_resume(sk__hub_t *h) {
  chat_t *ch = sk__chat_of(h);
  char *kept = ch->op_kept;
  ch->op_kept = NULL;
  chat_input(h, kept, ch->op_kept_len); /* may keep a part again */
  free(kept);
  if (!ch->op_kept)
    sk__hub_input_hold(h, false);
}

/* ---- joining and leaving ---- */

/* userN, skipping any N whose name someone took (or looks like). */
static int chat_name_first(chat_conn_t *cc) {
  chat_t *ch = sk__chat_of(cc->base.hub);
  char name[32], keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES];
  int n;
  do {
    ch->next_id = sk__fed_next_id(cc->base.hub, ch->next_id);
    n = snprintf(name, sizeof name, "user%" PRIu64, ch->next_id);
    if (sk__nick_keys(ch->nicks, name, (size_t)n, keys) < 0)
      return -ENOMEM;
  } while (name_holder(ch, keys) || name_reserved(ch, keys) ||
           sk__fed_taken(cc->base.hub, keys));
  return name_set(cc, name, (size_t)n, keys);
}

static void chat_join(sk__conn_t *c) {
  chat_conn_t *cc = (chat_conn_t *)c;
  sk__hub_t *h = c->hub;
  char addr[SK_ADDRSTR_LEN];
  if (chat_name_first(cc) < 0) {
    sk__conn_close(c, UV_ENOMEM);
    return;
  }
  sk__fed_join(cc);
  sk__fed_renamed(cc, NULL); /* its name claimed across the federation */
  sk__chat_tell(cc,
                "*** you are %s: in " SK__CHAT_LOBBY
                "; /nick NAME renames, /help lists commands\n",
                cc->name);
  if (sk__chat_room_enter(cc, sk__chat_of(h)->lobby) < 0) {
    sk__conn_close(c, UV_ENOMEM);
    return;
  }
  sk__conn_peer_format(c, addr, sizeof addr);
  sk__chat_emit(h,
                sk__chat_printf(h, "*** %s joined from %s\n", cc->name, addr),
                NULL, NULL, SK__TO_LOG);
}

/* The room is told at the end of the turn (sk__chat_rooms_turn); the
 * log is told now, one line each, and has its own bound. */
static void chat_leave(sk__conn_t *c) {
  chat_conn_t *cc = (chat_conn_t *)c;
  sk__hub_t *h = c->hub;
  chat_t *ch = sk__chat_of(h);
  char buf[96];
  name_del(ch, cc);
  quiet_unlink(ch, cc);
  sk__chat_room_exit(cc, cc->why, h->stopping);
  if (h->stopping || !cc->name_len)
    return;
  if (c->why == SK__WHY_IDLE)
    sk__chat_tell(cc, "*** closing: %s\n",
                  sk__why_text(h, c->why, buf, sizeof buf));
  const char *text = cc->why && c->why == SK__WHY_QUIT
                         ? cc->why
                         : sk__why_text(h, c->why, buf, sizeof buf);
  if (c->why == SK__WHY_EOF)
    sk__chat_emit(h, sk__chat_printf(h, "*** %s left\n", cc->name), NULL, NULL,
                  SK__TO_LOG);
  else
    sk__chat_emit(h, sk__chat_printf(h, "*** %s left: %s\n", cc->name, text),
                  NULL, NULL, SK__TO_LOG);
}

/* Once per loop turn: the operator's kept input if there is room, then
 * who joined and left, in one message per room. */
static void chat_turn(sk__hub_t *h) {
  chat_t *ch = sk__chat_of(h);
  if (ch->op_kept && !sk__hub_busy(h))
    chat_input_resume(h);
  sk__chat_rooms_turn(h);
  sk__fed_push(h); /* the other servers' lines before ours are flushed */
}

static void chat_free(sk__conn_t *c) {
  chat_conn_t *cc = (chat_conn_t *)c;
  chat_t *ch = sk__chat_of(c->hub);
  if (ch) {
    quiet_unlink(ch, cc);
    if (cc->room) /* never joined fully, or the hub is stopping */
      sk__chat_room_exit(cc, NULL, true);
    sk__fed_forget(cc);
  }
  sk__lines_free(&cc->lines);
  for (int k = 0; k < SK__NICK_KEYS; k++)
    free(cc->keys[k]);
  free(cc->kept);
  free(cc->why);
}

static int chat_init(sk__hub_t *h) {
  chat_t *ch = calloc(1, sizeof *ch);
  if (!ch)
    return -ENOMEM;
  h->mode_data = ch;
  ch->history = h->opts.history < SK__CHAT_HISTORY_MAX ? h->opts.history
                                                       : SK__CHAT_HISTORY_MAX;
  ch->hist_cap = h->opts.max_queue / 4;
  ch->scratch_cap =
      LINE_AT + SK__CHAT_LINE_MAX(h->opts.max_line) + SK__CHAT_WHO_MAX;
  ch->scratch = malloc(ch->scratch_cap);
  ch->n_bucket = 64;
  for (int k = 0; k < SK__NICK_KEYS; k++)
    ch->bucket[k] = calloc(ch->n_bucket, sizeof *ch->bucket[k]);
  ch->nicks = sk__nicks_open();
  uv_timer_init(h->loop, &ch->quiet_timer);
  ch->quiet_timer.data = h;
  uv_unref((uv_handle_t *)&ch->quiet_timer); /* never keeps a stop waiting */
  uv_timer_init(h->loop, &ch->note_timer);
  ch->note_timer.data = h;
  uv_unref((uv_handle_t *)&ch->note_timer);
  if (!ch->scratch || !ch->bucket[0] || !ch->bucket[1] || !ch->nicks)
    return -ENOMEM;
  ch->lobby = sk__chat_room_get(h, SK__CHAT_LOBBY, strlen(SK__CHAT_LOBBY));
  if (!ch->lobby)
    return -ENOMEM;
  return sk__fed_open(h);
}

static void chat_fini(sk__hub_t *h) {
  chat_t *ch = sk__chat_of(h);
  if (!ch)
    return;
  sk__fed_close(h);
  sk__chat_rooms_free(ch);
  sk__lines_free(&ch->op_lines);
  sk__nicks_close(ch->nicks);
  free(ch->op_kept);
  free(ch->scratch);
  for (int k = 0; k < SK__NICK_KEYS; k++)
    free(ch->bucket[k]);
  free(ch);
  h->mode_data = NULL;
}

const sk__hub_mode_t sk__hub_chat = {
    .conn_size = sizeof(chat_conn_t),
    .full_msg = "*** server full\n",
    .out_lossy = true,
    .console = true,
    .init = chat_init,
    .fini = chat_fini,
    .on_join = chat_join,
    .on_data = chat_data,
    .on_eof = chat_eof,
    .on_leave = chat_leave,
    .on_free = chat_free,
    .on_input = chat_input,
    .on_turn = chat_turn,
    .on_held = chat_held,
};
