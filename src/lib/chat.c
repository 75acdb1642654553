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

typedef struct chat_conn {
  sk__conn_t base;
  sk__lines_t lines;           /* an unfinished line, only while there is one */
  struct chat_conn *name_next; /* chain in the name table */
  uint8_t name_len;
  char name[SK__NICK_BYTES + 1];
} chat_conn_t;

typedef struct chat {
  chat_conn_t **bucket; /* names of current members, for uniqueness */
  size_t n_bucket, n_names;
  uint64_t next_id; /* userN: N counts up and is never reused in a run */
  sk__lines_t op_lines;
  char *scratch; /* a timestamp, then the line being formatted */
  size_t scratch_cap;
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
  return cc->base.state == SK__CONN_OPEN;
}

static void chat_data(sk__conn_t *c, const char *data, size_t len) {
  chat_conn_t *cc = (chat_conn_t *)c;
  if (sk__lines_feed(&cc->lines, c->hub->opts.max_line, data, len, chat_line_cb,
                     cc) < 0)
    sk__conn_close(c, UV_ENOMEM);
}

static void chat_eof(sk__conn_t *c) {
  chat_conn_t *cc = (chat_conn_t *)c;
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
  return true;
}

static void chat_input(sk__hub_t *h, const char *data, size_t len) {
  chat_t *ch = chat_of(h);
  if (len == 0)
    sk__lines_finish(&ch->op_lines, h->opts.max_line, op_line_cb, h);
  else if (sk__lines_feed(&ch->op_lines, h->opts.max_line, data, len,
                          op_line_cb, h) < 0)
    sk__hub_notice(h, "operator input: %s", strerror(ENOMEM));
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

static void chat_leave(sk__conn_t *c) {
  chat_conn_t *cc = (chat_conn_t *)c;
  sk__hub_t *h = c->hub;
  char buf[96];
  name_del(chat_of(h), cc);
  if (h->stopping)
    return;
  if (c->why == SK__WHY_IDLE)
    chat_tell(cc, "*** closing: %s\n",
              sk__why_text(h, c->why, buf, sizeof buf));
  if (c->why == SK__WHY_EOF) {
    chat_emit(h, chat_printf(h, "*** %s left\n", cc->name), c,
              TO_MEMBERS | TO_LOG);
    return;
  }
  chat_emit(h, chat_printf(h, "*** %s left\n", cc->name), c, TO_MEMBERS);
  chat_emit(h,
            chat_printf(h, "*** %s left: %s\n", cc->name,
                        sk__why_text(h, c->why, buf, sizeof buf)),
            NULL, TO_LOG);
}

static void chat_free(sk__conn_t *c) {
  sk__lines_free(&((chat_conn_t *)c)->lines);
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
  return ch->scratch && ch->bucket ? 0 : -ENOMEM;
}

static void chat_fini(sk__hub_t *h) {
  chat_t *ch = chat_of(h);
  if (!ch)
    return;
  sk__lines_free(&ch->op_lines);
  free(ch->scratch);
  free(ch->bucket);
  free(ch);
  h->mode_data = NULL;
}

const sk__hub_mode_t sk__hub_chat = {
    .conn_size = sizeof(chat_conn_t),
    .full_msg = "*** server full\n",
    .init = chat_init,
    .fini = chat_fini,
    .on_join = chat_join,
    .on_data = chat_data,
    .on_eof = chat_eof,
    .on_leave = chat_leave,
    .on_free = chat_free,
    .on_input = chat_input,
};
