/*
 * sockit (internal): one chat across several servers through Redis
 * pub/sub (hiredis on the chat's loop). Each server publishes what its
 * own clients say and do once, stamped with its name, an incarnation
 * and a sequence number; it delivers what the others publish to its own
 * members and drops what it has seen (see docs/design.md). Names are
 * claimed in Redis with a TTL so that no two servers hand out one name.
 * Every function is a no-op when the chat is not federated.
 */
#ifndef SOCKIT_FEDERATE_H
#define SOCKIT_FEDERATE_H

#include "chat_int.h"

typedef struct sk__fed sk__fed_t;
typedef struct sk__fed_user sk__fed_user_t;

/* A --federate URL, redis[s]://[:PASSWORD@]HOST:PORT[/DB][?QUERY]. */
typedef struct sk__fed_url {
  char host[256], pass[256];
  int port, db;
  bool tls;          /* rediss:// */
  char cacert[1024]; /* ?cacert=FILE: CAs trusted besides the system's */
  char pin[128];     /* ?pin=sha256:HEX: exactly that certificate */
} sk__fed_url_t;

/* Parses a --federate URL: 0, or -EINVAL with a line in err. */
int sk__fed_url_parse(char *err, const char *url, sk__fed_url_t *u);

/* Starts federating h when opts.federate is set: 0 or -ENOMEM. Redis
 * being out of reach is not an error: the chat runs alone and retries. */
int sk__fed_open(sk__hub_t *h);
void sk__fed_close(sk__hub_t *h);

/* A member got its first name / left for good. */
void sk__fed_join(chat_conn_t *cc);
void sk__fed_forget(chat_conn_t *cc);
/* A member came into r / went out of r (why may be NULL). */
void sk__fed_enter(chat_conn_t *cc, const chat_room_t *r);
void sk__fed_exit(chat_conn_t *cc, const chat_room_t *r, const char *why);
/* A member renamed itself from old (claims the new name in Redis). */
void sk__fed_renamed(chat_conn_t *cc, const char *old);
/* A line said in r by a local member or the operator, as delivered. */
void sk__fed_say(sk__hub_t *h, const chat_room_t *r, const char *line,
                 size_t len);
/* True when a member of another server holds one of keys. */
bool sk__fed_taken(sk__hub_t *h, char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES]);
/* The N of the next default name userN (unique across the federation
 * while Redis is reachable). */
uint64_t sk__fed_next_id(sk__hub_t *h, uint64_t last);
/* /msg to a member of another server: true when there is one (the text
 * is sent and echoed to cc), false to say there is none. */
bool sk__fed_msg(chat_conn_t *cc, const char *to, size_t to_len,
                 const char *text, size_t len);
/* True when h is federated: /who and /rooms are then answered below. */
bool sk__fed_on(const sk__hub_t *h);
/* Writes the commands queued for Redis now: once a turn, before the
 * members' flush. */
void sk__fed_push(sk__hub_t *h);
/* "/who [#room]" and "/rooms" across the federation, written at
 * sk__chat_line(h); the length. room NULL: every room (with where). */
size_t sk__fed_who(sk__hub_t *h, const char *room, size_t room_len,
                   const chat_conn_t *me);
size_t sk__fed_rooms(sk__hub_t *h);

#endif
