/*
 * sockit (internal): the chat room's state, shared by chat.c (lines,
 * joining, leaving), chat_room.c (rooms, history, notices) and
 * chat_cmd.c (the members' and the operator's commands).
 */
#ifndef SOCKIT_CHAT_INT_H
#define SOCKIT_CHAT_INT_H

#include "hub_int.h"
#include "nick.h"

#define SK__CHAT_ROOM_CHARS 32 /* after the '#' */
#define SK__CHAT_HISTORY_MAX 1000
#define SK__CHAT_LOBBY "#lobby"
#define SK__CHAT_SERVER "server" /* the operator, whom nobody may mimic */
#define SK__CHAT_SHOWN 4      /* more joining or leaving in a turn: a count */
#define SK__CHAT_WHY_MAX 160  /* bytes of a /quit or /kick reason kept */
#define SK__CHAT_WHO_MAX 4096 /* longest /who answer; the rest is counted */

typedef struct chat_room chat_room_t;

typedef struct chat_conn {
  sk__conn_t base;
  sk__lines_t lines; /* an unfinished line, only while there is one */
  /* Chains in the name tables, one per key (nick.h). */
  struct chat_conn *name_next[SK__NICK_KEYS];
  char *keys[SK__NICK_KEYS];
  /* In the list of unfinished lines, oldest first (chat_t.quiet_head). */
  struct chat_conn *quiet_prev, *quiet_next;
  uint64_t quiet_at; /* uv_now of its last bytes, while on that list */
  bool quiet_on;     /* on that list */
  bool flushed;      /* its unfinished line went out whole: a newline that
                        comes next ends that line, not a new empty one */
  char *kept;        /* input not looked at while the room was busy */
  size_t kept_len;
  chat_room_t *room;
  uint32_t room_index;   /* in room->members */
  uint64_t joined_epoch; /* room->epoch when it joined its room */
  char *why; /* "/quit bye" or a kick: told to the room as it leaves */
  struct sk__fed_user *fed; /* federated: its handle for Redis replies */
  uint8_t name_len;
  char name[SK__NICK_BYTES + 1];
} chat_conn_t;

/* Who joined or left a room this loop turn, told at its end. */
typedef struct chat_notes {
  uint32_t n;
  char name[SK__CHAT_SHOWN][SK__NICK_BYTES + 1];
  char why[SK__CHAT_SHOWN][SK__CHAT_WHY_MAX + 8];
} chat_notes_t;

struct chat_room {
  chat_room_t *next;      /* every room */
  chat_room_t *turn_next; /* rooms with notes not told yet */
  bool on_turn;
  uint64_t epoch;   /* notes told so far: who came since is not told
                       of its own coming */
  uint64_t told_at; /* uv_now when its notes were last told */
  uint8_t name_len;
  char name[SK__CHAT_ROOM_CHARS + 2];
  chat_conn_t **members;
  uint32_t n_members, cap_members;
  sk__msg_t **hist; /* a ring of the last lines said, opts.history slots */
  uint32_t hist_head, hist_n;
  size_t hist_bytes;
  chat_notes_t joined, left;
};

typedef struct chat {
  sk__nicks_t *nicks;
  chat_conn_t **bucket[SK__NICK_KEYS]; /* members by each name key */
  size_t n_bucket, n_names;
  uint64_t next_id; /* userN: N counts up and is never reused in a run */
  chat_room_t *rooms, *lobby, *turn_head;
  uint32_t n_rooms, history;
  size_t hist_cap; /* bytes of history a room keeps */
  sk__lines_t op_lines;
  char *op_kept; /* operator input not looked at while the room was busy */
  size_t op_kept_len;
  char *scratch; /* a timestamp and room, then the line being formatted */
  size_t scratch_cap;
  chat_conn_t *quiet_head, *quiet_tail;
  uv_timer_t quiet_timer;
  uv_timer_t note_timer; /* the next room whose notes wait is due */
  struct sk__fed *fed;    /* --federate (federate.c), or NULL */
} chat_t;

static inline chat_t *sk__chat_of(const sk__hub_t *h) {
  return h->mode_data;
}

/* ---- chat_room.c ---- */

/* 0 when s is a room name: '#' and 1 to 32 of A-Z a-z 0-9 _ -. */
int sk__chat_room_check(const char *s, size_t len);
/* The room named s (any case), or NULL. */
chat_room_t *sk__chat_room_find(chat_t *ch, const char *s, size_t len);
/* The room named s, made if needed; NULL on ENOMEM. */
chat_room_t *sk__chat_room_get(sk__hub_t *h, const char *s, size_t len);
/* Puts cc in r (out of its room first), noted for the turn's notice,
 * and sends it r's history. -ENOMEM leaves cc where it was. */
int sk__chat_room_enter(chat_conn_t *cc, chat_room_t *r);
/* Takes cc out of its room, noted with why (or NULL) unless quiet. */
void sk__chat_room_exit(chat_conn_t *cc, const char *why, bool quiet);
/* Sends m to every member of r but except. */
void sk__chat_room_send(chat_room_t *r, sk__msg_t *m,
                        const chat_conn_t *except);
/* Keeps m as r's newest history line. */
void sk__chat_room_remember(sk__hub_t *h, chat_room_t *r, sk__msg_t *m);
/* At the end of a turn: each room's notes that are due, in one message
 * per room (see chat_room.c for when they are due). */
void sk__chat_rooms_turn(sk__hub_t *h);
/* Tells r's notes now, so that they come before a line said in r. */
void sk__chat_room_notes_flush(sk__hub_t *h, chat_room_t *r);
/* Notes that name joined (or left, with why or NULL) r this turn. */
void sk__chat_room_note(sk__hub_t *h, chat_room_t *r, bool joined,
                        const char *name, const char *why);
void sk__chat_rooms_free(chat_t *ch);

/* ---- chat.c ---- */

/* Where sk__chat_emit sends a line: the room's members, the log, and
 * the room's history (for what is said, not for notices). */
enum { SK__TO_MEMBERS = 1, SK__TO_LOG = 2, SK__TO_HISTORY = 4,
       SK__TO_FED = 8 /* and to the other servers (federate.c) */ };

/* The line buffer sk__chat_printf writes and sk__chat_emit sends. */
char *sk__chat_line(const sk__hub_t *h);
size_t sk__chat_line_cap(const sk__hub_t *h);
size_t sk__chat_printf(sk__hub_t *h, const char *fmt, ...) SK__PRINTF(2, 3);
/* The len bytes at sk__chat_line(h) go where `to` says: r's members
 * but except, r's history, the log (marked with r's name; r NULL: a
 * line about the whole server, for the log only). */
void sk__chat_emit(sk__hub_t *h, size_t len, chat_room_t *r,
                   const chat_conn_t *except, int to);
/* One line to one member only, never logged. */
void sk__chat_tell(chat_conn_t *cc, const char *fmt, ...) SK__PRINTF(2, 3);
/* One line to the operator: the log, never the members. */
void sk__chat_op_tell(sk__hub_t *h, const char *fmt, ...) SK__PRINTF(2, 3);
/* User text made safe and cut short, for quoting back. */
#define SK__CHAT_QUOTE_MAX 64
#define SK__CHAT_QUOTE_CAP (SK_UTF8_SANITIZED_MAX(SK__CHAT_QUOTE_MAX) + 4)
const char *sk__chat_quote(char *out, const char *s, size_t len);
/* The member whose name is name to a reader, or NULL. */
/* The look-alike keys of a name as typed (normalised first); -1 when it
 * is no valid name. */
int sk__chat_name_keys(chat_t *ch, const char *name, size_t len,
                       char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES]);
chat_conn_t *sk__chat_find(chat_t *ch, const char *name, size_t len);
/* Renames cc; 0, or -EINVAL / -EEXIST with a reason told to nobody. */
int sk__chat_rename(chat_conn_t *cc, const char *name, size_t len,
                    const char **why);
/* Asks the hub to stop, exit code 0: /shutdown. */
void sk__chat_stop(sk__hub_t *h);

/* ---- chat_cmd.c ---- */

void sk__chat_command(chat_conn_t *cc, const char *text, size_t len);
void sk__chat_op_command(sk__hub_t *h, const char *text, size_t len);
/* "/who" as words: the command word's length and its argument. */
size_t sk__chat_split(const char *text, size_t len, const char **arg,
                      size_t *arg_len);

#endif
