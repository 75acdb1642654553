/*
 * The chat room: whole lines from each client go to every other client
 * as "<name> text", made safe for terminals; out_fd gets the whole
 * conversation with UTC timestamps. Lines are assembled before they are
 * sanitized, so a character split across reads arrives whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_int.h"
#include "sockit/addr.h"
#include "sockit/utf8.h"

#define STAMP_LEN 21         /* "2026-11-25T09:41:02Z " */
#define WHO_MAX 4096         /* longest /who answer; the rest is counted */
#define QUOTE_MAX 64         /* bytes of user text quoted back in an error */
#define SERVER_NAME "server" /* the operator's name, which nobody may take */
#define LEFT_SHOWN 4         /* more leaving in one turn are told as a count */

typedef struct chat_conn {
  sk__conn_t base;
  sk__lines_t lines;           /* an unfinished line, only while there is one */
  struct chat_conn *name_next; /* chain in the name table */
  /* In the list of unfinished lines, oldest first (chat_t.quiet_head). */
  struct chat_conn *quiet_prev, *quiet_next;
  uint64_t quiet_at; /* uv_now of its last bytes, while on that list */
  bool quiet_on;     /* on that list */
  bool flushed;      /* its unfinished line went out whole: a newline that
                        comes next ends that line, not a new empty one */
  char *kept;        /* input not looked at while the room was busy */
  size_t kept_len;
  uint8_t name_len;
  char name[SK__NICK_BYTES + 1];
} chat_conn_t;

typedef struct chat {
  chat_conn_t **bucket; /* names of current members, for uniqueness */
  size_t n_bucket, n_names;
  uint64_t next_id; /* userN: N counts up and is never reused in a run */
  sk__lines_t op_lines;
  char *op_kept; /* operator input not looked at while the room was busy */
  size_t op_kept_len;
  char *scratch; /* a timestamp, then the line being formatted */
  size_t scratch_cap;
  /* Members who left this loop turn, told in one message at its end:
   * told one by one, 10,000 leaving at once cost 500 MB of queues. */
  uint32_t n_left;
  char left[LEFT_SHOWN][SK__NICK_BYTES + 1];
  chat_conn_t *quiet_head, *quiet_tail;
  uv_timer_t quiet_timer;
} chat_t;

/* ---- pure helpers ---- */

/* Characters a nick may not hold: controls, spaces of every kind and
 * invisible ones that would let two nicks look the same. */
static bool nick_cp_ok(uint32_t cp) {
  if (cp <= 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0xa0))
    return false;
  if (cp == '<' || cp == '>' || cp == 0xad || cp == 0x34f || cp == 0x61c)
    return false;
  if (cp == 0x115f || cp == 0x1160 || cp == 0x1680 || cp == 0x180e ||
      cp == 0x3000 || cp == 0x3164 || cp == 0xfeff || cp == 0xffa0)
    return false;
  if ((cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) ||
      (cp >= 0x205f && cp <= 0x206f))
    return false; /* spaces, zero-width characters, direction controls */
  if ((cp >= 0xfff0 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f))
    return false;
  return true;
}

int sk__chat_nick_check(const char *name, size_t len) {
  const unsigned char *s = (const unsigned char *)name;
  size_t i = 0, chars = 0;
  while (i < len) {
    uint32_t cp = 0;
    size_t n = sk_utf8_seq_len(s + i, len - i, &cp);
    if (n == 0 || !nick_cp_ok(cp) || ++chars > SK__NICK_CHARS)
      return -EINVAL;
    i += n;
  }
  return chars > 0 ? 0 : -EINVAL;
}

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

/* User text quoted back to its sender: safe, and cut short. */
static const char *quote(char *out, size_t cap, const char *s, size_t len) {
  size_t cut = len > QUOTE_MAX ? sk_utf8_boundary(s, QUOTE_MAX) : len;
  size_t o = sk_utf8_sanitize(s, cut, out, cap - 4);
  if (cut < len)
    memcpy(out + o, "...", 4);
  return out;
}

/* ---- the name table ---- */

static size_t name_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* The link that points at the member named s, or the NULL ending its
 * chain when there is none. */
static chat_conn_t **name_slot(chat_t *ch, const char *s, size_t n) {
  chat_conn_t **p = &ch->bucket[name_hash(s, n) & (ch->n_bucket - 1)];
  while (*p && !((*p)->name_len == n && memcmp((*p)->name, s, n) == 0))
    p = &(*p)->name_next;
  return p;
}

static bool name_taken(chat_t *ch, const char *s, size_t n) {
  return *name_slot(ch, s, n) != NULL ||
         (n == strlen(SERVER_NAME) && memcmp(s, SERVER_NAME, n) == 0);
}

/* Doubles the buckets; on ENOMEM the chains just get longer. */
static void name_grow(chat_t *ch) {
  size_t n = ch->n_bucket * 2;
  chat_conn_t **b = calloc(n, sizeof *b);
  if (!b)
    return;
  for (size_t i = 0; i < ch->n_bucket; i++) {
    chat_conn_t *cc = ch->bucket[i], *next;
    for (; cc; cc = next) {
      next = cc->name_next;
      size_t k = name_hash(cc->name, cc->name_len) & (n - 1);
      cc->name_next = b[k];
      b[k] = cc;
    }
  }
  free(ch->bucket);
  ch->bucket = b;
  ch->n_bucket = n;
}

static void name_add(chat_t *ch, chat_conn_t *cc) {
  if (ch->n_names >= ch->n_bucket)
    name_grow(ch);
  chat_conn_t **p = name_slot(ch, cc->name, cc->name_len);
  cc->name_next = NULL;
  *p = cc;
  ch->n_names++;
}

static void name_del(chat_t *ch, chat_conn_t *cc) {
  chat_conn_t **p = name_slot(ch, cc->name, cc->name_len);
  if (*p == cc) {
    *p = cc->name_next;
    ch->n_names--;
  }
}

/* ---- sending ---- */

static chat_t *chat_of(const sk__hub_t *h) {
  return h->mode_data;
}

static char *chat_line(const sk__hub_t *h) {
  return chat_of(h)->scratch + STAMP_LEN;
}

static size_t chat_line_cap(const sk__hub_t *h) {
  return chat_of(h)->scratch_cap - STAMP_LEN;
}

enum { TO_MEMBERS = 1, TO_LOG = 2 };

/* The len bytes at chat_line(h) go to every member but except and/or,
 * timestamped, to the conversation log. */
static void chat_emit(sk__hub_t *h, size_t len, const sk__conn_t *except,
                      int to) {
  chat_t *ch = chat_of(h);
  sk__msg_t *m;
  if ((to & TO_MEMBERS) && (m = sk__msg_new(ch->scratch + STAMP_LEN, len))) {
    sk__hub_broadcast(h, m, except);
    sk__msg_unref(m);
  }
  if (!(to & TO_LOG) || !h->out_open)
    return;
  sk__chat_stamp(ch->scratch, time(NULL));
  ch->scratch[STAMP_LEN - 1] = ' ';
  if ((m = sk__msg_new(ch->scratch, STAMP_LEN + len))) {
    sk__hub_output(h, m);
    sk__msg_unref(m);
  }
}

/* Formats a server line into chat_line(h); returns its length. */
static size_t chat_printf(sk__hub_t *h, const char *fmt, ...) SK__PRINTF(2, 3);
static size_t chat_printf(sk__hub_t *h, const char *fmt, ...) {
  va_list ap;
  size_t cap = chat_line_cap(h);
  va_start(ap, fmt);
  int n = vsnprintf(chat_line(h), cap, fmt, ap);
  va_end(ap);
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* One line to one client only, never logged. */
static void chat_tell(chat_conn_t *cc, const char *fmt, ...) SK__PRINTF(2, 3);
static void chat_tell(chat_conn_t *cc, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0)
    sk__conn_send_copy(&cc->base, buf,
                       (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* ---- commands ---- */

static void chat_rename(chat_conn_t *cc, const char *name, size_t n) {
  sk__hub_t *h = cc->base.hub;
  char old[sizeof cc->name];
  memcpy(old, cc->name, sizeof old);
  name_del(chat_of(h), cc);
  memcpy(cc->name, name, n);
  cc->name[n] = '\0';
  cc->name_len = (uint8_t)n;
  name_add(chat_of(h), cc);
  chat_tell(cc, "*** you are now %s\n", cc->name);
  chat_emit(h, chat_printf(h, "*** %s is now %s\n", old, cc->name), &cc->base,
            TO_MEMBERS | TO_LOG);
}

static void chat_nick(chat_conn_t *cc, const char *name, size_t n) {
  char q[SK_UTF8_SANITIZED_MAX(QUOTE_MAX) + 4];
  if (sk__chat_nick_check(name, n) < 0)
    chat_tell(cc,
              "*** nick \"%s\" is invalid: 1 to %d printable characters, "
              "no spaces, no < or >\n",
              quote(q, sizeof q, name, n), SK__NICK_CHARS);
  else if (n == cc->name_len && memcmp(name, cc->name, n) == 0)
    chat_tell(cc, "*** you are %s already\n", cc->name);
  else if (name_taken(chat_of(cc->base.hub), name, n))
    chat_tell(cc, "*** nick \"%s\" is taken\n", quote(q, sizeof q, name, n));
  else
    chat_rename(cc, name, n);
}

/* "*** 3 here: bob (you), user1, user3", cut at WHO_MAX bytes. */
static void chat_who(chat_conn_t *cc) {
  sk__hub_t *h = cc->base.hub;
  char *out = chat_line(h);
  uint32_t shown = 0;
  size_t o = (size_t)snprintf(out, WHO_MAX, "*** %u here:", h->n_open);
  for (uint32_t i = 0; i < h->n_conns; i++) {
    chat_conn_t *m = (chat_conn_t *)h->conns[i];
    if (m->base.left)
      continue;
    if (o + m->name_len + 16 > WHO_MAX)
      break;
    o += (size_t)snprintf(out + o, WHO_MAX - o, "%s %s%s", shown ? "," : "",
                          m->name, m == cc ? " (you)" : "");
    shown++;
  }
  if (shown < h->n_open)
    o += (size_t)snprintf(out + o, 64, ", and %u more", h->n_open - shown);
  out[o++] = '\n';
  sk__conn_send_copy(&cc->base, out, o);
}

static bool is_word(const char *s, size_t n, const char *word) {
  return n == strlen(word) && memcmp(s, word, n) == 0;
}

static void chat_command(chat_conn_t *cc, const char *text, size_t len) {
  char q[SK_UTF8_SANITIZED_MAX(QUOTE_MAX) + 4];
  size_t w = 0;
  while (w < len && text[w] != ' ' && text[w] != '\t')
    w++;
  const char *arg = text + w, *end = text + len;
  while (arg < end && (*arg == ' ' || *arg == '\t'))
    arg++;
  while (end > arg && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  if (is_word(text, w, "/nick"))
    chat_nick(cc, arg, (size_t)(end - arg));
  else if (is_word(text, w, "/who"))
    chat_who(cc);
  else if (is_word(text, w, "/quit"))
    sk__conn_finish(&cc->base, SK__WHY_QUIT);
  else
    chat_tell(cc,
              "*** unknown command \"%s\": try /nick NAME, /who, /quit "
              "(start a line with // to say /...)\n",
              quote(q, sizeof q, text, w));
}

/* ---- lines from clients and from the operator ---- */

static bool chat_line_cb(void *ctx, const char *text, size_t len,
                         bool too_long) {
  chat_conn_t *cc = ctx;
  sk__hub_t *h = cc->base.hub;
  if (cc->base.state != SK__CONN_OPEN)
    return false;
  if (too_long) {
    chat_tell(cc, "*** line over %zu bytes not delivered\n", h->opts.max_line);
  } else if (len > 0 && text[0] == '/' && (len < 2 || text[1] != '/')) {
    chat_command(cc, text, len);
  } else {
    if (len > 1 && text[0] == '/') /* "//x" says "/x" */
      text++, len--;
    size_t n =
        sk__chat_format(chat_line(h), chat_line_cap(h), cc->name, text, len);
    chat_emit(h, n, &cc->base, TO_MEMBERS | TO_LOG);
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
  quiet_touch(chat_of(c->hub), cc);
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
  quiet_unlink(chat_of(c->hub), cc);
  sk__lines_finish(&cc->lines, c->hub->opts.max_line, chat_line_cb, cc);
}

static bool op_line_cb(void *ctx, const char *text, size_t len, bool too_long) {
  sk__hub_t *h = ctx;
  if (too_long) {
    sk__hub_notice(h, "line over %zu bytes not delivered", h->opts.max_line);
    return true;
  }
  size_t n =
      sk__chat_format(chat_line(h), chat_line_cap(h), SERVER_NAME, text, len);
  chat_emit(h, n, NULL, TO_MEMBERS | TO_LOG);
  return !sk__hub_busy(h); /* as chat_line_cb: the rest waits */
}

static void chat_input(sk__hub_t *h, const char *data, size_t len) {
  chat_t *ch = chat_of(h);
  sk__lines_t *l = &ch->op_lines;
  int rc = len == 0
               ? 0
               : sk__lines_feed(l, h->opts.max_line, data, len, op_line_cb, h);
  if (rc == 1 && l->used == len) /* stopped at the last line: none left */
    rc = 0;
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
  chat_t *ch = chat_of(h);
  char *kept = ch->op_kept;
  ch->op_kept = NULL;
  chat_input(h, kept, ch->op_kept_len); /* may keep a part again */
  free(kept);
  if (!ch->op_kept)
    sk__hub_input_hold(h, false);
}

/* ---- joining and leaving ---- */

static void chat_join(sk__conn_t *c) {
  chat_conn_t *cc = (chat_conn_t *)c;
  sk__hub_t *h = c->hub;
  chat_t *ch = chat_of(h);
  char addr[SK_ADDRSTR_LEN];
  int n;
  do /* skip a userN that someone took with /nick */
    n = snprintf(cc->name, sizeof cc->name, "user%" PRIu64, ++ch->next_id);
  while (name_taken(ch, cc->name, (size_t)n));
  cc->name_len = (uint8_t)n;
  name_add(ch, cc);
  chat_tell(cc, "*** you are %s: /nick NAME renames, /who lists, /quit\n",
            cc->name);
  chat_emit(h, chat_printf(h, "*** %s joined\n", cc->name), c, TO_MEMBERS);
  sk__conn_peer_format(c, addr, sizeof addr);
  chat_emit(h, chat_printf(h, "*** %s joined from %s\n", cc->name, addr), NULL,
            TO_LOG);
}

/* The members told at the end of the turn (chat_turn); the log is told
 * now, one line each, and has its own bound. */
static void chat_leave(sk__conn_t *c) {
  chat_conn_t *cc = (chat_conn_t *)c;
  sk__hub_t *h = c->hub;
  chat_t *ch = chat_of(h);
  char buf[96];
  name_del(ch, cc);
  quiet_unlink(ch, cc);
  if (h->stopping)
    return;
  if (c->why == SK__WHY_IDLE)
    chat_tell(cc, "*** closing: %s\n",
              sk__why_text(h, c->why, buf, sizeof buf));
  if (ch->n_left < LEFT_SHOWN)
    memcpy(ch->left[ch->n_left], cc->name, sizeof cc->name);
  if (ch->n_left++ == 0)
    sk__hub_kick(h);
  if (c->why == SK__WHY_EOF)
    chat_emit(h, chat_printf(h, "*** %s left\n", cc->name), c, TO_LOG);
  else
    chat_emit(h,
              chat_printf(h, "*** %s left: %s\n", cc->name,
                          sk__why_text(h, c->why, buf, sizeof buf)),
              NULL, TO_LOG);
}

/* Once per loop turn: the operator's kept input if there is room, then
 * who left, in one message to every member. */
static void chat_turn(sk__hub_t *h) {
  chat_t *ch = chat_of(h);
  size_t o = 0, cap = chat_line_cap(h);
  char *out = chat_line(h);
  if (ch->op_kept && !sk__hub_busy(h))
    chat_input_resume(h);
  if (ch->n_left == 0)
    return;
  if (ch->n_left > LEFT_SHOWN)
    o = (size_t)snprintf(out, cap, "*** %u users left\n", ch->n_left);
  for (uint32_t i = 0; ch->n_left <= LEFT_SHOWN && i < ch->n_left; i++)
    o += (size_t)snprintf(out + o, cap - o, "*** %s left\n", ch->left[i]);
  ch->n_left = 0;
  chat_emit(h, o, NULL, TO_MEMBERS);
}

static void chat_free(sk__conn_t *c) {
  chat_conn_t *cc = (chat_conn_t *)c;
  quiet_unlink(chat_of(c->hub), cc);
  sk__lines_free(&cc->lines);
  free(cc->kept);
}

static int chat_init(sk__hub_t *h) {
  chat_t *ch = calloc(1, sizeof *ch);
  if (!ch)
    return -ENOMEM;
  h->mode_data = ch;
  ch->scratch_cap = STAMP_LEN + SK__CHAT_LINE_MAX(h->opts.max_line) + WHO_MAX;
  ch->scratch = malloc(ch->scratch_cap);
  ch->n_bucket = 64;
  ch->bucket = calloc(ch->n_bucket, sizeof *ch->bucket);
  uv_timer_init(h->loop, &ch->quiet_timer);
  ch->quiet_timer.data = h;
  uv_unref((uv_handle_t *)&ch->quiet_timer); /* never keeps a stop waiting */
  return ch->scratch && ch->bucket ? 0 : -ENOMEM;
}

static void chat_fini(sk__hub_t *h) {
  chat_t *ch = chat_of(h);
  if (!ch)
    return;
  sk__lines_free(&ch->op_lines);
  free(ch->op_kept);
  free(ch->scratch);
  free(ch->bucket);
  free(ch);
  h->mode_data = NULL;
}

const sk__hub_mode_t sk__hub_chat = {
    .conn_size = sizeof(chat_conn_t),
    .full_msg = "*** server full\n",
    .out_lossy = true,
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
