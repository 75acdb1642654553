/*
 * Chat rooms: who is in which room, each room's history, and the join
 * and leave notices ("notes"), told together. Told one by one, 10,000
 * clients joining cost 50 M deliveries (each join to everyone there).
 * Told once per loop turn, they still cost a write to every member per
 * turn, and a turn accepts 64 clients: 3.5 s of system time for 10,000.
 * So a room's notes are told at the end of a turn at most every
 * members / NOTE_RATE ms (1 s at most): a room of 20 hears at once, a
 * room of 10,000 once a second, and the writes per second stay bounded
 * whatever the room's size. A line said in a room tells its notes first
 * (in the same write), so nobody speaks before being announced.
 */
#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat_int.h"
#include "federate.h"

#define NOTE_RATE 10       /* members told per ms, at most, of notes */
#define NOTE_WAIT_MAX 1000 /* ms a note may wait for others */
/* Who joined and left, named with their reasons: the longest notes. */
#define NOTES_MAX                                                              \
  (2 * SK__CHAT_SHOWN * (SK__NICK_BYTES + SK__CHAT_WHY_MAX + 32))

int sk__chat_room_check(const char *s, size_t len) {
  if (len < 2 || len > SK__CHAT_ROOM_CHARS + 1 || s[0] != '#')
    return -EINVAL;
  for (size_t i = 1; i < len; i++)
    if (!isascii((unsigned char)s[i]) ||
        !(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
      return -EINVAL;
  return 0;
}

/* A linear search: rooms are few next to the members, and a /join is
 * rare next to a line said. */
chat_room_t *sk__chat_room_find(chat_t *ch, const char *s, size_t len) {
  for (chat_room_t *r = ch->rooms; r; r = r->next)
    if (r->name_len == len && strncasecmp(r->name, s, len) == 0)
      return r;
  return NULL;
}

chat_room_t *sk__chat_room_get(sk__hub_t *h, const char *s, size_t len) {
  chat_t *ch = sk__chat_of(h);
  chat_room_t *r = sk__chat_room_find(ch, s, len);
  if (r)
    return r;
  if ((r = calloc(1, sizeof *r)) == NULL)
    return NULL;
  if (ch->history > 0 &&
      (r->hist = calloc(ch->history, sizeof *r->hist)) == NULL) {
    free(r);
    return NULL;
  }
  memcpy(r->name, s, len);
  r->name_len = (uint8_t)len;
  r->next = ch->rooms;
  ch->rooms = r;
  ch->n_rooms++;
  return r;
}

static void room_free(chat_room_t *r) {
  for (uint32_t i = 0; i < r->hist_n; i++)
    sk__msg_unref(r->hist[i]);
  free(r->hist);
  free(r->members);
  free(r);
}

/* A room lives while it has members (the lobby always) and until the
 * notes of its last turn are told. */
static void room_release(chat_t *ch, chat_room_t *r) {
  if (r == ch->lobby || r->n_members > 0 || r->on_turn)
    return;
  chat_room_t **p = &ch->rooms;
  while (*p != r)
    p = &(*p)->next;
  *p = r->next;
  ch->n_rooms--;
  room_free(r);
}

void sk__chat_room_note(sk__hub_t *h, chat_room_t *r, bool joined,
                        const char *name, const char *why) {
  chat_t *ch = sk__chat_of(h);
  chat_notes_t *notes = joined ? &r->joined : &r->left;
  if (notes->n < SK__CHAT_SHOWN) {
    snprintf(notes->name[notes->n], sizeof notes->name[0], "%s", name);
    notes->why[notes->n][0] = '\0';
    if (why)
      snprintf(notes->why[notes->n], sizeof notes->why[0], " (%s)", why);
  }
  notes->n++;
  if (!r->on_turn) {
    r->on_turn = true;
    r->turn_next = ch->turn_head;
    ch->turn_head = r;
    sk__hub_kick(h);
  }
}

/* The history, oldest first, to a member who just came in. */
static void room_replay(chat_conn_t *cc, chat_room_t *r) {
  chat_t *ch = sk__chat_of(cc->base.hub);
  uint32_t first = (r->hist_head + ch->history - r->hist_n) % ch->history;
  for (uint32_t i = 0; i < r->hist_n; i++)
    sk__conn_send(&cc->base, r->hist[(first + i) % ch->history]);
}

int sk__chat_room_enter(chat_conn_t *cc, chat_room_t *r) {
  sk__hub_t *h = cc->base.hub;
  if (r->n_members == r->cap_members) {
    uint32_t cap = r->cap_members ? r->cap_members * 2 : 8;
    chat_conn_t **m = realloc(r->members, cap * sizeof *m);
    if (!m)
      return -ENOMEM;
    r->members = m;
    r->cap_members = cap;
  }
  if (cc->room)
    sk__chat_room_exit(cc, NULL, false);
  cc->room = r;
  cc->room_index = r->n_members;
  r->members[r->n_members++] = cc;
  cc->joined_epoch = r->epoch;
  sk__chat_room_note(h, r, true, cc->name, NULL);
  sk__fed_enter(cc, r);
  if (r->hist_n > 0)
    room_replay(cc, r);
  return 0;
}

void sk__chat_room_exit(chat_conn_t *cc, const char *why, bool quiet) {
  chat_room_t *r = cc->room;
  sk__hub_t *h = cc->base.hub;
  if (!r)
    return;
  chat_conn_t *last = r->members[--r->n_members];
  r->members[cc->room_index] = last;
  last->room_index = cc->room_index;
  cc->room = NULL;
  if (!quiet)
    sk__chat_room_note(h, r, false, cc->name, why);
  sk__fed_exit(cc, r, why);
  room_release(sk__chat_of(h), r);
}

void sk__chat_room_send(chat_room_t *r, sk__msg_t *m,
                        const chat_conn_t *except) {
  for (uint32_t i = 0; i < r->n_members; i++)
    if (r->members[i] != except)
      sk__conn_send(&r->members[i]->base, m);
}

void sk__chat_room_remember(sk__hub_t *h, chat_room_t *r, sk__msg_t *m) {
  chat_t *ch = sk__chat_of(h);
  if (ch->history == 0 || m->len > ch->hist_cap)
    return;
  /* Bounded twice: lines and bytes (a joiner's whole history fits a
   * quarter of its queue, so replaying it never congests the room). */
  while (r->hist_n > 0 &&
         (r->hist_n == ch->history || r->hist_bytes + m->len > ch->hist_cap)) {
    uint32_t oldest = (r->hist_head + ch->history - r->hist_n) % ch->history;
    r->hist_bytes -= r->hist[oldest]->len;
    sk__msg_unref(r->hist[oldest]);
    r->hist_n--;
  }
  r->hist[r->hist_head] = sk__msg_ref(m);
  r->hist_head = (r->hist_head + 1) % ch->history;
  r->hist_n++;
  r->hist_bytes += m->len;
}

/* "*** 250 users joined", or one line per name with its reason. */
static size_t notes_format(char *out, size_t cap, const chat_notes_t *n,
                           const char *verb) {
  size_t o = 0;
  if (n->n > SK__CHAT_SHOWN)
    return (size_t)snprintf(out, cap, "*** %u users %s\n", n->n, verb);
  for (uint32_t i = 0; i < n->n && o < cap; i++)
    o += (size_t)snprintf(out + o, cap - o, "*** %s %s%s\n", n->name[i], verb,
                          n->why[i]);
  return o < cap ? o : cap - 1;
}

/* Members who came since the last notes are not told of their own
 * coming. */
static void room_tell_notes(sk__hub_t *h, chat_room_t *r) {
  char out[NOTES_MAX]; /* not the line buffer: a line may wait there */
  size_t cap = sizeof out, o;
  o = notes_format(out, cap, &r->left, "left");
  o += notes_format(out + o, cap - o, &r->joined, "joined");
  r->left.n = r->joined.n = 0;
  r->told_at = uv_now(h->loop);
  sk__msg_t *m = o > 0 ? sk__msg_new(out, o) : NULL;
  if (m) {
    for (uint32_t i = 0; i < r->n_members; i++)
      if (r->members[i]->joined_epoch != r->epoch)
        sk__conn_send(&r->members[i]->base, m);
    sk__msg_unref(m);
  }
  r->epoch++;
}

void sk__chat_room_notes_flush(sk__hub_t *h, chat_room_t *r) {
  if (r->left.n || r->joined.n)
    room_tell_notes(h, r);
}

/* How long r's notes may wait for more, in ms from its last notes. */
static uint64_t note_wait(const chat_room_t *r) {
  uint64_t w = r->n_members / NOTE_RATE;
  return w < NOTE_WAIT_MAX ? w : NOTE_WAIT_MAX;
}

static void note_timer_cb(uv_timer_t *t) {
  sk__hub_kick(t->data); /* the turn's end tells what is due */
}

void sk__chat_rooms_turn(sk__hub_t *h) {
  chat_t *ch = sk__chat_of(h);
  chat_room_t *r = ch->turn_head, *next, *keep = NULL;
  uint64_t now = uv_now(h->loop), soonest = UINT64_MAX;
  for (ch->turn_head = NULL; r; r = next) {
    next = r->turn_next;
    uint64_t due = r->told_at + note_wait(r);
    if (due > now && (r->left.n || r->joined.n)) {
      r->turn_next = keep;
      keep = r;
      soonest = due - now < soonest ? due - now : soonest;
      continue;
    }
    sk__chat_room_notes_flush(h, r);
    r->on_turn = false;
    room_release(ch, r);
  }
  ch->turn_head = keep;
  if (keep && (!uv_is_active((uv_handle_t *)&ch->note_timer) ||
               uv_timer_get_due_in(&ch->note_timer) > soonest))
    uv_timer_start(&ch->note_timer, note_timer_cb, soonest, 0);
}

void sk__chat_rooms_free(chat_t *ch) {
  chat_room_t *r, *next;
  for (r = ch->rooms; r; r = next) {
    next = r->next;
    room_free(r);
  }
  ch->rooms = ch->lobby = ch->turn_head = NULL;
}
