/*
 * Chat commands: a member's (/help, /me, /msg, /join, /part, /rooms,
 * /who, /nick, /quit) answered to that member alone, and the operator's
 * (/who, /kick, /say, /rooms, /shutdown) answered in the log, never to
 * the members.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"
#include "federate.h"
#include "sockit/addr.h"

#define HELP                                                                   \
  "*** commands: /me ACTION, /msg NICK TEXT (private), /join #ROOM, "          \
  "/part (back to " SK__CHAT_LOBBY "), /rooms, /who [#ROOM], /nick NAME, "     \
  "/quit [MESSAGE], /help; start a line with // to say /...\n"

size_t sk__chat_split(const char *text, size_t len, const char **arg,
                      size_t *arg_len) {
  size_t w = 0;
  while (w < len && text[w] != ' ' && text[w] != '\t')
    w++;
  const char *a = text + w, *end = text + len;
  while (a < end && (*a == ' ' || *a == '\t'))
    a++;
  while (end > a && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *arg = a;
  *arg_len = (size_t)(end - a);
  return w;
}

static bool is_word(const char *s, size_t n, const char *word) {
  return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* "*** 3 in #lobby: bob (you), user1, user3", cut at WHO_MAX bytes;
 * with where, each name is followed by its room and address. */
static size_t who_format(sk__hub_t *h, chat_room_t *r, const chat_conn_t *me,
                         bool where) {
  char *out = sk__chat_line(h), addr[SK_ADDRSTR_LEN];
  size_t o, max = SK__CHAT_WHO_MAX - 64;
  uint32_t shown = 0, n = r ? r->n_members : h->n_open;
  o = (size_t)snprintf(out, max, "*** %u in %s:", n, r ? r->name : "all rooms");
  for (uint32_t i = 0; i < (r ? r->n_members : h->n_conns); i++) {
    chat_conn_t *m = r ? r->members[i] : (chat_conn_t *)h->conns[i];
    if (m->base.left || !m->room)
      continue;
    if (where)
      sk__conn_peer_format(&m->base, addr, sizeof addr);
    int w = snprintf(out + o, max - o, "%s %s%s%s%s%s%s", shown ? "," : "",
                     m->name, m == me ? " (you)" : "", where ? " (" : "",
                     where ? m->room->name : "", where ? " " : "",
                     where ? addr : "");
    if (w < 0 || o + (size_t)w + (where ? 1 : 0) >= max)
      break;
    o += (size_t)w;
    if (where)
      out[o++] = ')';
    shown++;
  }
  if (shown < n)
    o += (size_t)snprintf(out + o, 64, ", and %u more", n - shown);
  out[o++] = '\n';
  return o;
}

/* "*** 2 rooms: #lobby (3), #dev (1)", cut like /who. */
static size_t rooms_format(sk__hub_t *h) {
  chat_t *ch = sk__chat_of(h);
  char *out = sk__chat_line(h);
  size_t o, max = SK__CHAT_WHO_MAX - 64;
  uint32_t shown = 0;
  o = (size_t)snprintf(out, max, "*** %u room%s:", ch->n_rooms,
                       ch->n_rooms == 1 ? "" : "s");
  for (chat_room_t *r = ch->rooms; r; r = r->next) {
    int w = snprintf(out + o, max - o, "%s %s (%u)", shown ? "," : "", r->name,
                     r->n_members);
    if (w < 0 || o + (size_t)w >= max)
      break;
    o += (size_t)w;
    shown++;
  }
  if (shown < ch->n_rooms)
    o += (size_t)snprintf(out + o, 64, ", and %u more", ch->n_rooms - shown);
  out[o++] = '\n';
  return o;
}

/* The room named arg, told to cc (or the operator) when there is none. */
static chat_room_t *room_arg(sk__hub_t *h, chat_conn_t *cc, const char *arg,
                             size_t n) {
  char q[SK__CHAT_QUOTE_CAP];
  chat_room_t *r = sk__chat_room_find(sk__chat_of(h), arg, n);
  if (r)
    return r;
  if (cc)
    sk__chat_tell(cc, "*** no room \"%s\": /rooms lists them\n",
                  sk__chat_quote(q, arg, n));
  else
    sk__chat_op_tell(h, "*** no room \"%s\"\n", sk__chat_quote(q, arg, n));
  return NULL;
}

/* ---- a member's commands ---- */

static void cmd_nick(chat_conn_t *cc, const char *arg, size_t n) {
  sk__hub_t *h = cc->base.hub;
  char q[SK__CHAT_QUOTE_CAP], old[SK__NICK_BYTES + 1];
  const char *why;
  memcpy(old, cc->name, sizeof old);
  int rc = sk__chat_rename(cc, arg, n, &why);
  if (rc == -EALREADY) {
    sk__chat_tell(cc, "*** you are %s already\n", cc->name);
  } else if (rc == -EEXIST) { /* by another, or like another's name */
    sk__chat_tell(cc, "*** nick \"%s\" is taken\n", sk__chat_quote(q, arg, n));
  } else if (rc < 0) {
    sk__chat_tell(cc,
                  "*** nick \"%s\" %s: 1 to %d characters, no spaces, "
                  "no invisible characters\n",
                  sk__chat_quote(q, arg, n), why, SK__NICK_CHARS);
  } else {
    sk__chat_tell(cc, "*** you are now %s\n", cc->name);
    sk__chat_emit(h, sk__chat_printf(h, "*** %s is now %s\n", old, cc->name),
                  cc->room, cc, SK__TO_MEMBERS | SK__TO_LOG);
    sk__fed_renamed(cc, old);
  }
}

static void cmd_me(chat_conn_t *cc, const char *arg, size_t n) {
  sk__hub_t *h = cc->base.hub;
  if (n == 0) { /* not an empty action shown to the room */
    sk__chat_tell(cc, "*** usage: /me ACTION\n");
    return;
  }
  char *out = sk__chat_line(h);
  int o = snprintf(out, sk__chat_line_cap(h), "* %s ", cc->name);
  size_t len = (size_t)o;
  len += sk_utf8_sanitize(arg, n, out + len, sk__chat_line_cap(h) - len - 1);
  out[len++] = '\n';
  sk__chat_emit(h, len, cc->room, cc,
                SK__TO_MEMBERS | SK__TO_LOG | SK__TO_HISTORY | SK__TO_FED);
}

/* Private: to the one member, echoed to the sender, never logged. */
static void cmd_msg(chat_conn_t *cc, const char *arg, size_t n) {
  sk__hub_t *h = cc->base.hub;
  char q[SK__CHAT_QUOTE_CAP];
  const char *text;
  size_t text_len, w = sk__chat_split(arg, n, &text, &text_len);
  chat_conn_t *to = w ? sk__chat_find(sk__chat_of(h), arg, w) : NULL;
  if (w == 0 || text_len == 0) {
    sk__chat_tell(cc, "*** usage: /msg NICK TEXT\n");
    return;
  }
  if ((!to || to->base.left) && sk__fed_msg(cc, arg, w, text, text_len))
    return; /* a member of another server */
  if (!to || to->base.left) {
    sk__chat_tell(cc, "*** no one is called \"%s\"\n",
                  sk__chat_quote(q, arg, w));
    return;
  }
  char *out = sk__chat_line(h);
  size_t cap = sk__chat_line_cap(h);
  for (int echo = 0; echo < 2; echo++) { /* the sender sees it, and to whom */
    chat_conn_t *who = echo ? cc : to;
    size_t o = (size_t)snprintf(out, cap, echo ? "-> *%s* " : "*%s* ",
                                echo ? to->name : cc->name);
    o += sk_utf8_sanitize(text, text_len, out + o, cap - o - 1);
    out[o++] = '\n';
    if (!echo || to != cc)
      sk__conn_send_copy(&who->base, out, o);
  }
}

static void cmd_join(chat_conn_t *cc, const char *arg, size_t n) {
  sk__hub_t *h = cc->base.hub;
  char q[SK__CHAT_QUOTE_CAP];
  if (sk__chat_room_check(arg, n) < 0) {
    sk__chat_tell(cc,
                  "*** room \"%s\" is invalid: # and 1 to %d of A-Z a-z "
                  "0-9 _ -\n",
                  sk__chat_quote(q, arg, n), SK__CHAT_ROOM_CHARS);
    return;
  }
  chat_room_t *r = sk__chat_room_get(h, arg, n);
  if (r && r == cc->room) {
    sk__chat_tell(cc, "*** you are in %s already\n", r->name);
    return;
  }
  /* Told before the history, which follows it. */
  if (r)
    sk__chat_tell(cc, "*** you are in %s\n", r->name);
  if (!r || sk__chat_room_enter(cc, r) < 0) {
    sk__chat_tell(cc, "*** could not join: out of memory\n");
    return;
  }
  sk__chat_emit(h, sk__chat_printf(h, "*** %s joined\n", cc->name), r, NULL,
                SK__TO_LOG);
}

static void cmd_quit(chat_conn_t *cc, const char *arg, size_t n) {
  if (n > 0 && !cc->why) {
    size_t cut = n > SK__CHAT_WHY_MAX / 3
                     ? sk_utf8_boundary(arg, SK__CHAT_WHY_MAX / 3)
                     : n;
    if ((cc->why = malloc(SK_UTF8_SANITIZED_MAX(cut))) != NULL)
      sk_utf8_sanitize(arg, cut, cc->why, SK_UTF8_SANITIZED_MAX(cut));
  }
  sk__conn_finish(&cc->base, SK__WHY_QUIT);
}

void sk__chat_command(chat_conn_t *cc, const char *text, size_t len) {
  sk__hub_t *h = cc->base.hub;
  char q[SK__CHAT_QUOTE_CAP];
  const char *arg;
  size_t n, w = sk__chat_split(text, len, &arg, &n);
  if (is_word(text, w, "/nick"))
    cmd_nick(cc, arg, n);
  else if (is_word(text, w, "/me"))
    cmd_me(cc, arg, n);
  else if (is_word(text, w, "/msg"))
    cmd_msg(cc, arg, n);
  else if (is_word(text, w, "/join"))
    cmd_join(cc, arg, n);
  else if (is_word(text, w, "/part"))
    cmd_join(cc, SK__CHAT_LOBBY, strlen(SK__CHAT_LOBBY));
  else if (is_word(text, w, "/rooms"))
    sk__conn_send_copy(&cc->base, sk__chat_line(h),
                       sk__fed_on(h) ? sk__fed_rooms(h) : rooms_format(h));
  else if (is_word(text, w, "/who") && sk__fed_on(h) &&
           (n == 0 || sk__chat_room_check(arg, n) == 0))
    sk__conn_send_copy(&cc->base, sk__chat_line(h),
                       n ? sk__fed_who(h, arg, n, cc)
                         : sk__fed_who(h, cc->room->name, cc->room->name_len,
                                       cc));
  else if (is_word(text, w, "/who")) {
    chat_room_t *r = n ? room_arg(h, cc, arg, n) : cc->room;
    if (r)
      sk__conn_send_copy(&cc->base, sk__chat_line(h),
                         who_format(h, r, cc, false));
  } else if (is_word(text, w, "/quit"))
    cmd_quit(cc, arg, n);
  else if (is_word(text, w, "/help"))
    sk__chat_tell(cc, HELP);
  else
    sk__chat_tell(cc, "*** unknown command \"%s\": /help lists them\n",
                  sk__chat_quote(q, text, w));
}

/* ---- the operator's commands ---- */

static void op_kick(sk__hub_t *h, const char *arg, size_t n) {
  char q[SK__CHAT_QUOTE_CAP],
      reason[SK_UTF8_SANITIZED_MAX(SK__CHAT_WHY_MAX / 3)];
  const char *text;
  size_t text_len, w = sk__chat_split(arg, n, &text, &text_len);
  chat_conn_t *cc = w ? sk__chat_find(sk__chat_of(h), arg, w) : NULL;
  if (w == 0) {
    sk__chat_op_tell(h, "*** usage: /kick NICK [REASON]\n");
    return;
  }
  if (!cc || cc->base.left) {
    sk__chat_op_tell(h, "*** no one is called \"%s\"\n",
                     sk__chat_quote(q, arg, w));
    return;
  }
  size_t cut = text_len > SK__CHAT_WHY_MAX / 3 - 8
                   ? sk_utf8_boundary(text, SK__CHAT_WHY_MAX / 3 - 8)
                   : text_len;
  sk_utf8_sanitize(text, cut, reason, sizeof reason);
  free(cc->why);
  size_t cap = sizeof reason + 16;
  if ((cc->why = malloc(cap)) != NULL)
    snprintf(cc->why, cap, "kicked%s%s", cut ? ": " : "", reason);
  sk__chat_tell(cc, "*** you were kicked by the operator%s%s\n",
                cut ? ": " : "", reason);
  sk__conn_finish(&cc->base, SK__WHY_QUIT);
}

static void op_say(sk__hub_t *h, const char *arg, size_t n) {
  const char *text;
  size_t text_len, w = sk__chat_split(arg, n, &text, &text_len);
  if (w == 0) {
    sk__chat_op_tell(h, "*** usage: /say #ROOM TEXT\n");
    return;
  }
  chat_room_t *r = room_arg(h, NULL, arg, w);
  if (!r)
    return;
  size_t len = sk__chat_format(sk__chat_line(h), sk__chat_line_cap(h),
                               SK__CHAT_SERVER, text, text_len);
  sk__chat_emit(h, len, r, NULL,
                SK__TO_MEMBERS | SK__TO_LOG | SK__TO_HISTORY | SK__TO_FED);
}

/* Every member is told, then the hub closes each politely. */
static void op_shutdown(sk__hub_t *h, const char *arg, size_t n) {
  char *out = sk__chat_line(h);
  size_t cap = sk__chat_line_cap(h);
  size_t o =
      (size_t)snprintf(out, cap, "*** server shutting down%s", n ? ": " : "");
  o += sk_utf8_sanitize(arg, n, out + o, cap - o - 1);
  out[o++] = '\n';
  sk__msg_t *m = sk__msg_new(out, o);
  if (m) {
    sk__hub_broadcast(h, m, NULL);
    sk__msg_unref(m);
  }
  sk__chat_emit(h, o, NULL, NULL, SK__TO_LOG);
  sk__chat_stop(h);
}

void sk__chat_op_command(sk__hub_t *h, const char *text, size_t len) {
  char q[SK__CHAT_QUOTE_CAP];
  const char *arg;
  size_t n, w = sk__chat_split(text, len, &arg, &n);
  if (is_word(text, w, "/who") && sk__fed_on(h) && n == 0)
    sk__chat_emit(h, sk__fed_who(h, NULL, 0, NULL), NULL, NULL, SK__TO_LOG);
  else if (is_word(text, w, "/rooms") && sk__fed_on(h))
    sk__chat_emit(h, sk__fed_rooms(h), NULL, NULL, SK__TO_LOG);
  else if (is_word(text, w, "/who")) {
    chat_room_t *r = n ? room_arg(h, NULL, arg, n) : NULL;
    if (!n || r)
      sk__chat_emit(h, who_format(h, r, NULL, true), NULL, NULL, SK__TO_LOG);
  } else if (is_word(text, w, "/rooms"))
    sk__chat_emit(h, rooms_format(h), NULL, NULL, SK__TO_LOG);
  else if (is_word(text, w, "/kick"))
    op_kick(h, arg, n);
  else if (is_word(text, w, "/say"))
    op_say(h, arg, n);
  else if (is_word(text, w, "/shutdown"))
    op_shutdown(h, arg, n);
  else
    sk__chat_op_tell(h,
                     "*** unknown command \"%s\": /who [#ROOM], /rooms, "
                     "/kick NICK [REASON], /say #ROOM TEXT, /shutdown "
                     "[MESSAGE]; // says /...\n",
                     sk__chat_quote(q, text, w));
}
