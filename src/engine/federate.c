/*
 * One chat across several servers through Redis pub/sub: the flow is in
 * docs/design.md. Two connections per server (hiredis on the chat's
 * loop): one subscribed to "sockit:*", one for PUBLISH and the name
 * claims. A message is one header line, "sk1 ORIGIN EPOCH SEQ KIND A B",
 * and a body: ORIGIN is the server's name, EPOCH its start (a restart
 * is a new incarnation), SEQ counts its messages, so that a receiver
 * drops anything it has seen. Redis delivers one publisher's messages
 * in order, so each sender's lines arrive in the order said.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "federate.h"
#include "relay.h"
#include "sockit/addr.h"
#include "sockit/error.h"
#include "sockit/tls.h"

#define FED_PREFIX "sockit:"
#define FED_SERVER_CHAN FED_PREFIX "server"
#define FED_ORIGINS 64        /* servers in one federation, at most */
#define FED_REMOTE_MAX 200000 /* members of other servers kept, at most */
#define FED_BACKOFF_MIN 100   /* ms: reconnecting doubles up to MAX */
#define FED_BACKOFF_MAX 5000
#define FED_IDS 1024    /* default names reserved per INCRBY */
#define FED_STOP_MS 500 /* a stopping server waits this for Redis */
/* Not ready this long after connecting: given up and retried (a Redis
 * that accepts and never answers, or a connect nobody refuses). */
#define FED_CONNECT_MS 1000
/* Bytes waiting to be written to Redis, at most: a Redis that stopped
 * reading (frozen, or far behind) is an outage, not a growing buffer. */
#define FED_OBUF_MAX (16u << 20)
/* hiredis reads from Redis this many times (of 16 KiB) in one loop turn
 * at most, while more is waiting: 256 KiB, about 1,400 chat lines. */
#define FED_READ_TURNS 16

/*
 * Names: a name's keys hold the server whose member has it. They stand
 * while that server's FED_ALIVE key does (set every heartbeat, TTL
 * expiry): a server that dies frees its names within the TTL, and a
 * heartbeat renews one key, not one per member (renewing thousands of
 * name keys each heartbeat queued the lines published meanwhile behind
 * them). The name keys' own expiry (FED_NAME_HOLD_S, renewed every third
 * of it) only clears what a dead server left.
 */
#define FED_ALIVE FED_PREFIX "alive:"
#define FED_NAME_HOLD_S 3600
/* A key held by another server that is alive: Lua for "taken". */
#define TAKEN_LUA(k, me)                                                       \
  "local v=redis.call('GET'," k ") if v and v~=" me " and "                    \
  "redis.call('EXISTS','" FED_ALIVE "'..v)==1 then "
/* Claims names for ARGV[2] (for ARGV[3] s), SK__NICK_KEYS (ARGV[1])
 * keys a name, unless another holds one: answers the names (from 1)
 * whose keys another server holds. */
#define CLAIM_LUA                                                              \
  "local n=tonumber(ARGV[1]) local out={} for j=0,#KEYS/n-1 do "               \
  "local mine=true for i=1,n do "                                              \
  TAKEN_LUA("KEYS[j*n+i]", "ARGV[2]") "mine=false end end "                    \
  "if mine then for i=1,n do "                                                 \
  "redis.call('SET',KEYS[j*n+i],ARGV[2],'EX',ARGV[3]) end "                     \
  "else out[#out+1]=j+1 end end return out"
#define FED_CLAIM_BATCH 128 /* members one CLAIM_LUA covers */
/* Releases the keys ARGV[1] holds. */
#define RELEASE_LUA                                                            \
  "for _,k in ipairs(KEYS) do if redis.call('GET',k)==ARGV[1] then "           \
  "redis.call('DEL',k) end end return 1"

typedef struct fed_origin {
  char name[SK_HUB_FED_NAME_MAX + 1];
  uint64_t epoch, seq, heard_at;
} fed_origin_t;

typedef struct fed_remote {
  uint16_t origin;
  uint8_t name_len;
  char name[SK__NICK_BYTES + 1];
  char room[SK__CHAT_ROOM_CHARS + 2];
  char *keys[SK__NICK_KEYS];
} fed_remote_t;

struct sk__fed_user { /* a member, outliving it while Redis answers */
  chat_conn_t *cc;
  unsigned refs;
};

typedef struct fed_claims { /* one CLAIM_LUA: the members, their names */
  uint32_t n;
  struct {
    sk__fed_user_t *u;
    char name[SK__NICK_BYTES + 1];
    char old[SK__NICK_BYTES + 1]; /* "": a refresh or a first name */
  } m[];
} fed_claims_t;

struct sk__fed {
  sk__hub_t *h;
  sk__fed_url_t url;
  char *host, *pass; /* url's */
  int port, db;
  sk_tls_ctx_t *tls_ctx;      /* rediss:// */
  struct fed_tunnel *tunnels; /* rediss://: one per connection to Redis */
  char tls_err[SK_ERR_LEN];   /* why the last tunnel failed, or "" */
  char name[SK_HUB_FED_NAME_MAX + 1];
  uint64_t epoch, seq, ttl_ms, backoff;
  uint64_t beats; /* heartbeats said: the names are renewed every so many */
  redisAsyncContext *cmd, *sub;
  bool subscribed, have_ids, ready, down_told, stopping;
  uv_timer_t retry, beat, stop, wait;
  uv_prepare_t watch;
  uint64_t id_next, id_end; /* the block of userN names in use */
  uint64_t id_spare;         /* the first of the next block, or 0 */
  bool ids_asked;            /* the next block is asked for */
  fed_origin_t origins[FED_ORIGINS];
  uint32_t n_origins;
  fed_remote_t *remote;
  uint32_t n_remote, cap_remote;
  /* remote[] indexed by each name key (open addressing): slot = index + 1,
   * 0 empty, FED_TOMB deleted; sized so that joins and /msg stay O(1). */
  uint32_t *idx, idx_cap, idx_used;
  char *out; /* a message being published: the longest line and a header */
  size_t out_cap;
};

static void fed_connect(sk__fed_t *f);
static void fed_down(sk__fed_t *f, const char *why);

/* Stopping, and both connections are gone: the loop may end. */
static void fed_stopped(sk__fed_t *f) {
  if (f->cmd || f->sub || uv_is_closing((uv_handle_t *)&f->stop))
    return;
  uv_close((uv_handle_t *)&f->stop, NULL);
}

/* The one place that knows where the hub keeps its loop. */
static uv_loop_t *fed_loop(sk__hub_t *h) {
  return h->loop;
}

static sk__fed_t *fed_of(const sk__hub_t *h) {
  chat_t *ch = sk__chat_of(h);
  return ch ? ch->fed : NULL;
}

bool sk__fed_on(const sk__hub_t *h) {
  return fed_of(h) != NULL;
}

/* ---- the URL ---- */

static int fed_tls_ctx(char *err, const sk__fed_url_t *u, sk_tls_ctx_t **out) {
  sk_tls_opts_t o = {.role = SK_TLS_CLIENT,
                     .trustfile = u->cacert[0] ? u->cacert : NULL,
                     .pin = u->pin[0] ? u->pin : NULL};
  return sk_tls_ctx_new(err, out, &o);
}

int sk_hub_federate_check(char *err, const char *url) {
  sk__fed_url_t u;
  sk_tls_ctx_t *ctx = NULL;
  char why[SK_ERR_LEN];
  if (sk__fed_url_parse(err, url, &u) < 0)
    return -EINVAL;
  if (!u.tls)
    return 0;
  if (fed_tls_ctx(why, &u, &ctx) < 0) { /* a missing CA file, a bad pin */
    snprintf(err, SK_ERR_LEN, "--federate: %.240s", why);
    return -EINVAL;
  }
  sk_tls_ctx_free(ctx);
  return 0;
}

static int url_error(char *err, const char *url, const char *why) {
  (void)url; /* never quoted: it may hold a password */
  snprintf(err, SK_ERR_LEN,
           "--federate: %.60s; expected redis[s]://[:PASSWORD@]HOST:PORT[/DB]"
           "[?cacert=FILE|?pin=sha256:HEX]",
           why);
  return -EINVAL;
}

/* "cacert=FILE&pin=..." of a rediss:// URL into u. */
static int url_query(char *err, const char *url, char *q, sk__fed_url_t *u) {
  char *save = NULL;
  for (char *kv = strtok_r(q, "&", &save); kv;
       kv = strtok_r(NULL, "&", &save)) {
    char *v = strchr(kv, '=');
    if (!v || !v[1])
      return url_error(err, url, "a query part is not NAME=VALUE");
    *v++ = '\0';
    if (strcmp(kv, "cacert") == 0 && strlen(v) < sizeof u->cacert)
      memcpy(u->cacert, v, strlen(v) + 1);
    else if (strcmp(kv, "pin") == 0 && strlen(v) < sizeof u->pin)
      memcpy(u->pin, v, strlen(v) + 1);
    else
      return url_error(err, url, "the query takes cacert=FILE or pin=PIN");
  }
  if (!u->tls && (u->cacert[0] || u->pin[0]))
    return url_error(err, url, "cacert and pin need rediss://");
  if (u->cacert[0] && u->pin[0])
    return url_error(err, url, "cacert and pin exclude each other");
  return 0;
}

int sk__fed_url_parse(char *err, const char *url, sk__fed_url_t *u) {
  char buf[2048], *p = buf, *at, *colon, *slash, *q, *end;
  memset(u, 0, sizeof *u);
  if (strlen(url) >= sizeof buf)
    return url_error(err, url, "too long");
  memcpy(buf, url, strlen(url) + 1);
  if (strncmp(p, "rediss://", 9) == 0) {
    u->tls = true;
    p += 9;
  } else if (strncmp(p, "redis://", 8) == 0) {
    p += 8;
  } else {
    return url_error(err, url, "not a redis:// or rediss:// URL");
  }
  if ((at = strrchr(p, '@')) != NULL) {
    if (*p != ':' || (size_t)(at - p - 1) >= sizeof u->pass)
      return url_error(err, url, "bad password part");
    memcpy(u->pass, p + 1, (size_t)(at - p - 1));
    u->pass[at - p - 1] = '\0';
    p = at + 1;
  }
  if ((q = strchr(p, '?')) != NULL) {
    *q++ = '\0';
    if (url_query(err, url, q, u) < 0)
      return -EINVAL;
  }
  slash = strchr(p, '/');
  colon = memrchr(p, ':', slash ? (size_t)(slash - p) : strlen(p));
  if (!colon || colon == p || (size_t)(colon - p) >= sizeof u->host)
    return url_error(err, url, "no HOST:PORT");
  memcpy(u->host, p, (size_t)(colon - p));
  u->host[colon - p] = '\0';
  long v = strtol(colon + 1, &end, 10);
  if (end == colon + 1 || v < 1 || v > 65535 || (*end && *end != '/'))
    return url_error(err, url, "port is not 1 to 65535");
  u->port = (int)v;
  if (*end == '/' && end[1]) {
    const char *d = end + 1;
    v = strtol(d, &end, 10);
    if (end == d || *end || v < 0 || v > 15)
      return url_error(err, url, "DB is not 0 to 15");
    u->db = (int)v;
  }
  return 0;
}

/* ---- publishing ---- */

/* Whether a command may be queued: Redis is there and takes what was
 * queued before. One that does not is an outage (FED_OBUF_MAX). */
static bool fed_cmd_ok(sk__fed_t *f) {
  if (!f->ready || !f->cmd)
    return false;
  if (sdslen(f->cmd->c.obuf) <= FED_OBUF_MAX)
    return true;
  fed_down(f, "it takes nothing more");
  return false;
}

static void fed_publish(sk__fed_t *f, const char *chan, char kind,
                        const char *a, const char *b, const char *body,
                        size_t len) {
  char *buf = f->out;
  if (!f->ready || !f->cmd)
    return; /* at most once: what Redis cannot take now is not kept */
  int n = snprintf(buf, f->out_cap, "sk1 %s %" PRIu64 " %" PRIu64 " %c %s %s\n",
                   f->name, f->epoch, f->seq + 1, kind, a[0] ? a : "-",
                   b[0] ? b : "-");
  if (n < 0 || (size_t)n + len > f->out_cap)
    return; /* cannot be: out_cap holds the longest line and header */
  memcpy(buf + n, body, len);
  if (!fed_cmd_ok(f))
    return;
  if (redisAsyncCommand(f->cmd, NULL, NULL, "PUBLISH %s %b", chan, buf,
                        (size_t)n + len) == REDIS_OK)
    f->seq++;
}

/* Writes what waits for Redis now, before this turn's flush to the
 * members (on_turn): hiredis would write it when the loop next polls,
 * after that flush, and a flush to thousands of members takes tens of
 * ms that every line said here would wait before the other servers
 * even had it. An error found here is hiredis's as from the poll. */
void sk__fed_push(sk__hub_t *h) {
  sk__fed_t *f = fed_of(h);
  if (f && f->ready && f->cmd && sdslen(f->cmd->c.obuf) > 0)
    redisAsyncHandleWrite(f->cmd);
}

/* "sockit:room:#lobby": one channel per room, by its lower-case name. */
static void room_chan(char *out, const char *room) {
  size_t o = (size_t)snprintf(out, 64, FED_PREFIX "room:");
  for (; *room && o < 63; room++)
    out[o++] = (char)tolower((unsigned char)*room);
  out[o] = '\0';
}

static void fed_room_publish(sk__fed_t *f, const char *room, char kind,
                             const char *b, const char *body, size_t len) {
  char chan[64];
  room_chan(chan, room);
  fed_publish(f, chan, kind, room, b, body, len);
}

void sk__fed_say(sk__hub_t *h, const chat_room_t *r, const char *line,
                 size_t len) {
  sk__fed_t *f = fed_of(h);
  if (f)
    fed_room_publish(f, r->name, 'L', "-", line, len);
}

void sk__fed_enter(chat_conn_t *cc, const chat_room_t *r) {
  sk__fed_t *f = fed_of(cc->base.hub);
  if (f && cc->name_len)
    fed_room_publish(f, r->name, 'J', cc->name, "", 0);
}

void sk__fed_exit(chat_conn_t *cc, const chat_room_t *r, const char *why) {
  sk__fed_t *f = fed_of(cc->base.hub);
  if (f && cc->name_len)
    fed_room_publish(f, r->name, 'P', cc->name, why ? why : "",
                     why ? strlen(why) : 0);
}

/* Every local member again, quietly: for a server that just came. */
static void fed_roster(sk__fed_t *f) {
  sk__hub_t *h = f->h;
  for (uint32_t i = 0; i < h->n_conns; i++) {
    chat_conn_t *cc = (chat_conn_t *)h->conns[i];
    if (!cc->base.left && cc->room && cc->name_len)
      fed_publish(f, FED_SERVER_CHAN, 'R', cc->room->name, cc->name, "", 0);
  }
}

/* ---- names claimed in Redis ---- */

static sk__fed_user_t *user_ref(sk__fed_user_t *u) {
  u->refs++;
  return u;
}

static void user_unref(sk__fed_user_t *u) {
  if (--u->refs == 0)
    free(u);
}

void sk__fed_join(chat_conn_t *cc) {
  if (!fed_of(cc->base.hub) || cc->fed)
    return;
  if ((cc->fed = calloc(1, sizeof *cc->fed)) != NULL) {
    cc->fed->cc = cc;
    cc->fed->refs = 1;
  }
}

/* Tells cc's room and the others that cc is now called what it is. */
static void fed_tell_rename(chat_conn_t *cc, const char *old) {
  sk__hub_t *h = cc->base.hub;
  sk__fed_t *f = fed_of(h);
  sk__chat_emit(h, sk__chat_printf(h, "*** %s is now %s\n", old, cc->name),
                cc->room, cc, SK__TO_MEMBERS | SK__TO_LOG);
  if (cc->room)
    fed_room_publish(f, cc->room->name, 'N', old, cc->name, cc->name_len);
}

/* Another server holds cc's name: back to old, or a fresh userN. */
static void fed_clash(chat_conn_t *cc, const char *old) {
  sk__hub_t *h = cc->base.hub;
  char was[SK__NICK_BYTES + 1], name[32];
  const char *why;
  memcpy(was, cc->name, sizeof was);
  if (!old[0] || sk__chat_rename(cc, old, strlen(old), &why) < 0) {
    int n;
    chat_t *ch = sk__chat_of(h);
    do {
      ch->next_id = sk__fed_next_id(h, ch->next_id);
      n = snprintf(name, sizeof name, "user%" PRIu64, ch->next_id);
    } while (strcmp(name, was) == 0 || /* the name that clashed */
             sk__chat_rename(cc, name, (size_t)n, &why) == -EEXIST);
  }
  sk__chat_tell(cc, "*** %s is taken on another server: you are %s\n", was,
                cc->name);
  fed_tell_rename(cc, was);
  sk__fed_renamed(cc, NULL); /* claims the name it has now */
}

/* EVAL RELEASE_LUA over a name's keys: they are free for the others. */
static void fed_release_keys(sk__fed_t *f,
                             const char *const keys[SK__NICK_KEYS]) {
  char k[SK__NICK_KEYS][SK__NICK_KEY_BYTES + 16], nk[8];
  const char *argv[4 + SK__NICK_KEYS];
  size_t lens[4 + SK__NICK_KEYS];
  int n = 0;
  if (!fed_cmd_ok(f))
    return;
  snprintf(nk, sizeof nk, "%d", SK__NICK_KEYS);
  argv[n++] = "EVAL";
  argv[n++] = RELEASE_LUA;
  argv[n++] = nk;
  for (int i = 0; i < SK__NICK_KEYS; i++) {
    snprintf(k[i], sizeof k[i], FED_PREFIX "nick:%s", keys[i]);
    argv[n++] = k[i];
  }
  argv[n++] = f->name;
  for (int i = 0; i < n; i++)
    lens[i] = strlen(argv[i]);
  redisAsyncCommandArgv(f->cmd, NULL, NULL, n, argv, lens);
}

static void claims_free(fed_claims_t *b) {
  for (uint32_t j = 0; j < b->n; j++)
    user_unref(b->m[j].u);
  free(b);
}

static void claims_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  fed_claims_t *b = priv;
  (void)ac;
  for (size_t i = 0; reply && reply->type == REDIS_REPLY_ARRAY &&
                     i < reply->elements; i++) {
    long long j = reply->element[i]->integer - 1;
    chat_conn_t *cc = j >= 0 && j < b->n ? b->m[j].u->cc : NULL;
    if (cc && !cc->base.left && strcmp(cc->name, b->m[j].name) == 0)
      fed_clash(cc, b->m[j].old);
  }
  claims_free(b);
}

/* Sends one CLAIM_LUA for the members of b (their keys as they are). */
static void claims_send(sk__fed_t *f, fed_claims_t *b) {
  enum { KEY = SK__NICK_KEY_BYTES + 16, ARGS = 3 + SK__NICK_KEYS + 3 };
  uint32_t nk = b->n * SK__NICK_KEYS, n = 0;
  char (*k)[KEY] = malloc(nk * sizeof *k), num[16], hold[24], per[8];
  const char **argv = malloc((nk + ARGS) * sizeof *argv);
  size_t *lens = malloc((nk + ARGS) * sizeof *lens);
  if (k && argv && lens && fed_cmd_ok(f)) {
    argv[n++] = "EVAL";
    argv[n++] = CLAIM_LUA;
    snprintf(num, sizeof num, "%u", nk);
    argv[n++] = num;
    for (uint32_t j = 0; j < nk; j++) {
      snprintf(k[j], KEY, FED_PREFIX "nick:%s",
               b->m[j / SK__NICK_KEYS].u->cc->keys[j % SK__NICK_KEYS]);
      argv[n++] = k[j];
    }
    snprintf(per, sizeof per, "%d", SK__NICK_KEYS);
    snprintf(hold, sizeof hold, "%d", FED_NAME_HOLD_S);
    argv[n++] = per;
    argv[n++] = f->name;
    argv[n++] = hold;
    for (uint32_t i = 0; i < n; i++)
      lens[i] = strlen(argv[i]);
    if (redisAsyncCommandArgv(f->cmd, claims_cb, b, (int)n, argv, lens) ==
        REDIS_OK)
      b = NULL;
  }
  free(k);
  free(argv);
  free(lens);
  if (b)
    claims_free(b);
}

/* A claim for up to n members, or NULL. */
static fed_claims_t *claims_new(uint32_t n) {
  fed_claims_t *b = malloc(sizeof *b + n * sizeof b->m[0]);
  if (b)
    b->n = 0;
  return b;
}

/* Adds cc (its name now, old the one it had or NULL) to b. */
static void claims_add(fed_claims_t *b, chat_conn_t *cc, const char *old) {
  b->m[b->n].u = user_ref(cc->fed);
  memcpy(b->m[b->n].name, cc->name, sizeof b->m[b->n].name);
  snprintf(b->m[b->n].old, sizeof b->m[b->n].old, "%s", old ? old : "");
  b->n++;
}

static bool claimable(const chat_conn_t *cc) {
  return !cc->base.left && cc->name_len && cc->fed && cc->keys[0];
}

/* Claims (or refreshes) cc's name; old is the name it had, or NULL. */
static void fed_claim(sk__fed_t *f, chat_conn_t *cc, const char *old) {
  fed_claims_t *b;
  if (!f->ready || !claimable(cc) || !(b = claims_new(1)))
    return;
  claims_add(b, cc, old);
  claims_send(f, b);
}

/* Claims (or refreshes) every member's name, FED_CLAIM_BATCH a command:
 * one EVAL a member made Redis run thousands of scripts at once, and the
 * lines published meanwhile waited behind them. */
static void fed_claim_all(sk__fed_t *f) {
  sk__hub_t *h = f->h;
  fed_claims_t *b = NULL;
  for (uint32_t i = 0; i < h->n_conns; i++) {
    chat_conn_t *cc = (chat_conn_t *)h->conns[i];
    if (!claimable(cc))
      continue;
    if (!b && !(b = claims_new(FED_CLAIM_BATCH)))
      return;
    claims_add(b, cc, NULL);
    if (b->n == FED_CLAIM_BATCH) {
      claims_send(f, b);
      b = NULL;
    }
  }
  if (b)
    claims_send(f, b);
}

/* This server is alive for another TTL: its members' names stand. */
static void fed_alive(sk__fed_t *f) {
  if (fed_cmd_ok(f))
    redisAsyncCommand(f->cmd, NULL, NULL, "SET " FED_ALIVE "%s 1 PX %" PRIu64,
                      f->name, f->ttl_ms);
}

static void fed_release(sk__fed_t *f, chat_conn_t *cc) {
  if (f->ready && cc->keys[0])
    fed_release_keys(f, (const char *const *)cc->keys);
}

/* A name given up by renaming: free for the others at once. */
static void fed_release_name(sk__fed_t *f, const char *name) {
  char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES];
  const char *k[SK__NICK_KEYS];
  if (!f->ready ||
      sk__nick_keys(sk__chat_of(f->h)->nicks, name, strlen(name), keys) < 0)
    return;
  for (int i = 0; i < SK__NICK_KEYS; i++)
    k[i] = keys[i];
  fed_release_keys(f, k);
}

void sk__fed_renamed(chat_conn_t *cc, const char *old) {
  sk__fed_t *f = fed_of(cc->base.hub);
  if (!f)
    return;
  if (old && cc->room)
    fed_room_publish(f, cc->room->name, 'N', old, cc->name, cc->name_len);
  if (old)
    fed_release_name(f, old);
  fed_claim(f, cc, old);
}

void sk__fed_forget(chat_conn_t *cc) {
  sk__fed_t *f = fed_of(cc->base.hub);
  if (!cc->fed)
    return;
  if (f && cc->name_len)
    fed_release(f, cc);
  cc->fed->cc = NULL;
  user_unref(cc->fed);
  cc->fed = NULL;
}

static void ids_cb(redisAsyncContext *ac, void *r, void *priv);

/* Guest names come in blocks of FED_IDS from Redis (INCRBY), so no two
 * servers hand out the same one. The next block is asked for as soon as
 * a block is in use, so that a join storm does not run out while the
 * answer waits behind its claims (a name past the block would be in
 * another server's, clash, and each clash is a rename told to all). */
uint64_t sk__fed_next_id(sk__hub_t *h, uint64_t last) {
  sk__fed_t *f = fed_of(h);
  if (f && f->id_next >= f->id_end && f->id_spare) {
    f->id_next = f->id_spare;
    f->id_end = f->id_spare + FED_IDS;
    f->id_spare = 0;
  }
  if (!f || f->id_next >= f->id_end)
    return last + 1; /* alone: a clash found later renames */
  if (!f->ids_asked && !f->id_spare && f->cmd)
    f->ids_asked = redisAsyncCommand(f->cmd, ids_cb, f,
                                     "INCRBY " FED_PREFIX "ids %d",
                                     FED_IDS) == REDIS_OK;
  return f->id_next++;
}

/* ---- the members of the other servers ---- */

#define FED_TOMB UINT32_MAX

static uint32_t key_hash(const char *s) { /* FNV-1a */
  uint32_t x = 2166136261u;
  for (; *s; s++)
    x = (x ^ (unsigned char)*s) * 16777619u;
  return x;
}

/* The next remote[] index whose key k is key, from *pos on; -1 at end. */
static int64_t idx_next(const sk__fed_t *f, int k, const char *key,
                        uint32_t *pos) {
  for (uint32_t n = 0; f->idx_cap && n < f->idx_cap; n++) {
    uint32_t s = (*pos)++ & (f->idx_cap - 1), v = f->idx[s];
    if (v == 0)
      return -1;
    if (v != FED_TOMB && strcmp(f->remote[v - 1].keys[k], key) == 0)
      return v - 1;
  }
  return -1;
}

static void idx_add(sk__fed_t *f, uint32_t i) {
  for (int k = 0; k < SK__NICK_KEYS; k++) {
    uint32_t s = key_hash(f->remote[i].keys[k]);
    while (f->idx[s & (f->idx_cap - 1)] != 0 &&
           f->idx[s & (f->idx_cap - 1)] != FED_TOMB)
      s++;
    f->idx[s & (f->idx_cap - 1)] = i + 1;
    f->idx_used++;
  }
}

/* Rewrites the slots holding remote[i] to v (FED_TOMB, or a new place). */
static void idx_set(sk__fed_t *f, uint32_t i, uint32_t v) {
  for (int k = 0; k < SK__NICK_KEYS; k++) {
    uint32_t s = key_hash(f->remote[i].keys[k]);
    for (uint32_t n = 0; n < f->idx_cap && f->idx[s & (f->idx_cap - 1)];
         n++, s++)
      if (f->idx[s & (f->idx_cap - 1)] == i + 1) {
        f->idx[s & (f->idx_cap - 1)] = v;
        break;
      }
  }
}

/* Room for one more member (tombstones count until the rebuild). */
static int idx_reserve(sk__fed_t *f) {
  if ((f->idx_used + SK__NICK_KEYS) * 2 <= f->idx_cap)
    return 0;
  uint32_t cap = 256;
  while (cap < (f->n_remote + 1) * SK__NICK_KEYS * 4)
    cap *= 2;
  uint32_t *t = calloc(cap, sizeof *t);
  if (!t)
    return -ENOMEM;
  free(f->idx);
  f->idx = t;
  f->idx_cap = cap;
  f->idx_used = 0;
  for (uint32_t i = 0; i < f->n_remote; i++)
    idx_add(f, i);
  return 0;
}

/* Origin o's member called name, whose first key is key0. */
static fed_remote_t *remote_find_key(sk__fed_t *f, uint16_t o,
                                     const char *name, const char *key0) {
  uint32_t pos = key_hash(key0);
  for (int64_t i; (i = idx_next(f, 0, key0, &pos)) >= 0;)
    if (f->remote[i].origin == o && strcmp(f->remote[i].name, name) == 0)
      return &f->remote[i];
  return NULL;
}

static fed_remote_t *remote_find(sk__fed_t *f, uint16_t o, const char *name) {
  char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES];
  if (sk__nick_keys(sk__chat_of(f->h)->nicks, name, strlen(name), keys) < 0)
    return NULL; /* then it was never kept */
  return remote_find_key(f, o, name, keys[0]);
}

/* The first member holding key k (any server), or NULL. */
static fed_remote_t *remote_by_key(sk__fed_t *f, int k, const char *key) {
  uint32_t pos = key_hash(key);
  int64_t i = idx_next(f, k, key, &pos);
  return i >= 0 ? &f->remote[i] : NULL;
}

static void remote_del(sk__fed_t *f, fed_remote_t *r) {
  uint32_t i = (uint32_t)(r - f->remote), last = f->n_remote - 1;
  idx_set(f, i, FED_TOMB);
  if (i != last)
    idx_set(f, last, i + 1);
  for (int k = 0; k < SK__NICK_KEYS; k++)
    free(r->keys[k]);
  *r = f->remote[last];
  f->n_remote--;
}

/* Adds (or moves) a member of server o; NULL when it cannot be kept. */
static fed_remote_t *remote_put(sk__fed_t *f, uint16_t o, const char *name,
                                const char *room) {
  char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES];
  size_t len = strlen(name);
  if (len > SK__NICK_BYTES ||
      sk__nick_keys(sk__chat_of(f->h)->nicks, name, len, keys) < 0)
    return NULL; /* then it was never kept */
  fed_remote_t *r = remote_find_key(f, o, name, keys[0]);
  if (!r) {
    if (f->n_remote >= FED_REMOTE_MAX || idx_reserve(f) < 0)
      return NULL;
    if (f->n_remote == f->cap_remote) {
      uint32_t cap = f->cap_remote ? f->cap_remote * 2 : 64;
      fed_remote_t *m = realloc(f->remote, cap * sizeof *m);
      if (!m)
        return NULL;
      f->remote = m;
      f->cap_remote = cap;
    }
    r = &f->remote[f->n_remote];
    memset(r, 0, sizeof *r);
    for (int k = 0; k < SK__NICK_KEYS; k++)
      if ((r->keys[k] = strdup(keys[k])) == NULL) {
        while (k-- > 0)
          free(r->keys[k]);
        return NULL;
      }
    f->n_remote++;
    idx_add(f, f->n_remote - 1);
    r->origin = o;
    memcpy(r->name, name, len + 1);
    r->name_len = (uint8_t)len;
  }
  snprintf(r->room, sizeof r->room, "%s", room);
  return r;
}

bool sk__fed_taken(sk__hub_t *h, char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES]) {
  sk__fed_t *f = fed_of(h);
  for (int k = 0; f && k < SK__NICK_KEYS; k++)
    if (remote_by_key(f, k, keys[k]))
      return true;
  return false;
}

static fed_remote_t *remote_by_name(sk__fed_t *f, const char *name,
                                    size_t len) {
  char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES];
  if (sk__chat_name_keys(sk__chat_of(f->h), name, len, keys) < 0)
    return NULL;
  fed_remote_t *r = NULL;
  for (int k = 0; k < SK__NICK_KEYS && !r; k++)
    r = remote_by_key(f, k, keys[k]);
  return r;
}

/* A note in the local room named room, if there is one here. */
static void remote_note(sk__fed_t *f, const char *room, bool joined,
                        const char *name, const char *why) {
  chat_room_t *r = sk__chat_room_find(sk__chat_of(f->h), room, strlen(room));
  if (r)
    sk__chat_room_note(f->h, r, joined, name, why);
}

/* Server o is gone (or stopped): its members leave every room here,
 * each told with why; why NULL: forgotten without a word (its roster
 * follows). */
static void origin_drop(sk__fed_t *f, uint16_t o, const char *why) {
  for (uint32_t i = f->n_remote; i-- > 0;)
    if (f->remote[i].origin == o) {
      if (why)
        remote_note(f, f->remote[i].room, false, f->remote[i].name, why);
      remote_del(f, &f->remote[i]);
    }
}

bool sk__fed_msg(chat_conn_t *cc, const char *to, size_t to_len,
                 const char *text, size_t len) {
  sk__hub_t *h = cc->base.hub;
  sk__fed_t *f = fed_of(h);
  fed_remote_t *r = f ? remote_by_name(f, to, to_len) : NULL;
  if (!r)
    return false;
  char *out = sk__chat_line(h);
  size_t cap = sk__chat_line_cap(h) / 2;
  size_t o = (size_t)snprintf(out, cap, "*%s* ", cc->name);
  o += sk_utf8_sanitize(text, len, out + o, cap - o - 1);
  out[o++] = '\n';
  fed_publish(f, FED_SERVER_CHAN, 'M', r->name, f->origins[r->origin].name, out,
              o);
  size_t e = (size_t)snprintf(out + o, cap, "-> *%s* ", r->name);
  e += sk_utf8_sanitize(text, len, out + o + e, cap - e - 1);
  out[o + e++] = '\n';
  sk__conn_send_copy(&cc->base, out + o, e);
  return true;
}

/* ---- receiving ---- */

typedef struct fed_msg {
  char origin[SK_HUB_FED_NAME_MAX + 1];
  uint64_t epoch, seq;
  char kind;
  char a[SK__NICK_BYTES + 1], b[SK__NICK_BYTES + 1];
  const char *body;
  size_t len;
} fed_msg_t;

/* 0 when the header of buf parses into m. */
static int msg_parse(const char *buf, size_t len, fed_msg_t *m) {
  const char *nl = memchr(buf, '\n', len < 512 ? len : 512);
  char head[512];
  if (!nl)
    return -EINVAL;
  memcpy(head, buf, (size_t)(nl - buf));
  head[nl - buf] = '\0';
  if (sscanf(head, "sk1 %32s %" SCNu64 " %" SCNu64 " %c %128s %128s", m->origin,
             &m->epoch, &m->seq, &m->kind, m->a, m->b) != 6)
    return -EINVAL;
  if (strcmp(m->a, "-") == 0)
    m->a[0] = '\0';
  if (strcmp(m->b, "-") == 0)
    m->b[0] = '\0';
  m->body = nl + 1;
  m->len = len - (size_t)(nl + 1 - buf);
  return 0;
}

/* The origin's slot, or -1 when the message was seen (or no room). */
static int origin_admit(sk__fed_t *f, const fed_msg_t *m) {
  uint32_t i;
  for (i = 0; i < f->n_origins; i++)
    if (strcmp(f->origins[i].name, m->origin) == 0)
      break;
  if (i == f->n_origins) {
    if (i == FED_ORIGINS)
      return -1;
    memset(&f->origins[i], 0, sizeof f->origins[i]);
    snprintf(f->origins[i].name, sizeof f->origins[i].name, "%s", m->origin);
    f->n_origins++;
  }
  fed_origin_t *o = &f->origins[i];
  if (o->epoch != m->epoch) { /* restarted: what it had is gone */
    if (o->epoch > m->epoch)
      return -1;
    origin_drop(f, (uint16_t)i, "server restarted");
    o->epoch = m->epoch;
    o->seq = 0;
  }
  if (m->seq <= o->seq)
    return -1;
  o->seq = m->seq;
  o->heard_at = uv_now(fed_loop(f->h));
  return (int)i;
}

/* Copies a body to the line buffer and sends it to the local room. */
static void deliver(sk__fed_t *f, const char *room, const char *body,
                    size_t len, int to) {
  sk__hub_t *h = f->h;
  chat_room_t *r = sk__chat_room_find(sk__chat_of(h), room, strlen(room));
  if (!r || len == 0 || len > sk__chat_line_cap(h))
    return;
  memcpy(sk__chat_line(h), body, len);
  sk__chat_emit(h, len, r, NULL, to);
}

static void msg_private(sk__fed_t *f, const fed_msg_t *m) {
  if (strcmp(m->b, f->name) != 0)
    return;
  chat_conn_t *cc = sk__chat_find(sk__chat_of(f->h), m->a, strlen(m->a));
  if (cc && !cc->base.left)
    sk__conn_send_copy(&cc->base, m->body, m->len);
}

static void msg_leave(sk__fed_t *f, uint16_t o, const fed_msg_t *m) {
  char why[SK__CHAT_WHY_MAX + 1];
  fed_remote_t *r = remote_find(f, o, m->b);
  size_t n = m->len < SK__CHAT_WHY_MAX ? m->len : SK__CHAT_WHY_MAX;
  memcpy(why, m->body, n);
  why[n] = '\0';
  remote_note(f, m->a, false, m->b, n ? why : NULL);
  if (r && strcasecmp(r->room, m->a) == 0)
    remote_del(f, r);
}

static void msg_rename(sk__fed_t *f, uint16_t o, const fed_msg_t *m) {
  fed_remote_t *r = remote_find(f, o, m->b);
  if (r)
    remote_del(f, r);
  char name[SK__NICK_BYTES + 1];
  size_t n = m->len < SK__NICK_BYTES ? m->len : SK__NICK_BYTES;
  memcpy(name, m->body, n);
  name[n] = '\0';
  remote_put(f, o, name, m->a);
  char line[2 * SK__NICK_BYTES + 32];
  int len = snprintf(line, sizeof line, "*** %s is now %s\n", m->b, name);
  deliver(f, m->a, line, (size_t)len, SK__TO_MEMBERS | SK__TO_LOG);
}

static void msg_handle(sk__fed_t *f, const char *buf, size_t len) {
  fed_msg_t m;
  int o;
  if (msg_parse(buf, len, &m) < 0 || strcmp(m.origin, f->name) == 0 ||
      (o = origin_admit(f, &m)) < 0)
    return;
  switch (m.kind) {
  case 'L':
    deliver(f, m.a, m.body, m.len,
            SK__TO_MEMBERS | SK__TO_LOG | SK__TO_HISTORY);
    break;
  case 'J':
    if (remote_put(f, (uint16_t)o, m.b, m.a))
      remote_note(f, m.a, true, m.b, NULL);
    break;
  case 'R':
    remote_put(f, (uint16_t)o, m.b, m.a);
    break;
  case 'P':
    msg_leave(f, (uint16_t)o, &m);
    break;
  case 'N':
    msg_rename(f, (uint16_t)o, &m);
    break;
  case 'M':
    msg_private(f, &m);
    break;
  case 'H': /* it (re)joined: its roster follows, ours is sent */
    origin_drop(f, (uint16_t)o, NULL);
    fed_roster(f);
    break;
  case 'X':
    origin_drop(f, (uint16_t)o, "server stopped");
    break;
  default:
    break; /* 'B', the heartbeat, or a kind from a later version */
  }
}

/* ---- the connections to Redis ---- */

/* Once subscribed and given ids: others are asked for their members,
 * and this server's members are announced and their names claimed. */
static void fed_maybe_ready(sk__fed_t *f) {
  sk__hub_t *h = f->h;
  if (f->ready || !f->subscribed || !f->have_ids)
    return;
  f->ready = true;
  f->backoff = FED_BACKOFF_MIN;
  uv_timer_stop(&f->wait);
  /* What we knew of the others may be stale: their rosters follow H. */
  while (f->n_remote > 0)
    remote_del(f, &f->remote[f->n_remote - 1]);
  sk__hub_notice(h, "federation: joined redis %s:%d as %s", f->host, f->port,
                 f->name);
  if (f->down_told) {
    char *line = sk__chat_line(h);
    size_t n = (size_t)snprintf(line, 64, "*** federation back\n");
    sk__msg_t *m = sk__msg_new(line, n);
    if (m) {
      sk__hub_broadcast(h, m, NULL);
      sk__msg_unref(m);
    }
  }
  f->down_told = false;
  fed_publish(f, FED_SERVER_CHAN, 'H', "", "", "", 0);
  fed_roster(f);
  fed_alive(f); /* before the claims: Redis runs them in order */
  fed_claim_all(f);
}

static void ids_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  sk__fed_t *f = priv;
  if (!reply || ac != f->cmd)
    return;
  if (reply->type != REDIS_REPLY_INTEGER) {
    fed_down(f, reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
    return;
  }
  uint64_t first = (uint64_t)reply->integer + 1 - FED_IDS;
  f->ids_asked = false;
  if (f->have_ids) { /* the next block, for when this one is used */
    f->id_spare = first;
    return;
  }
  f->id_next = first;
  f->id_end = first + FED_IDS;
  f->have_ids = true;
  fed_maybe_ready(f);
}

static void sub_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  sk__fed_t *f = priv;
  if (!reply || ac != f->sub)
    return;
  if (reply->type == REDIS_REPLY_ERROR) {
    fed_down(f, reply->str);
    return;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
    return;
  const char *what = reply->element[0]->str;
  if (what && strcmp(what, "psubscribe") == 0) {
    f->subscribed = true;
    fed_maybe_ready(f);
  } else if (what && strcmp(what, "pmessage") == 0 && reply->elements == 4 &&
             reply->element[3]->type == REDIS_REPLY_STRING) {
    msg_handle(f, reply->element[3]->str, reply->element[3]->len);
  }
}

/* A refused AUTH or SELECT: said once, then retried like an outage. */
static void check_cb(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *reply = r;
  sk__fed_t *f = priv;
  if (reply && reply->type == REDIS_REPLY_ERROR &&
      (ac == f->cmd || ac == f->sub))
    fed_down(f, reply->str);
}

static void retry_cb(uv_timer_t *t) {
  fed_connect(t->data);
}

/* Still not ready: the socket's own error says why, if it has one. */
static void wait_cb(uv_timer_t *t) {
  sk__fed_t *f = t->data;
  int e = 0;
  socklen_t len = sizeof e;
  if (f->ready)
    return;
  if (f->cmd && getsockopt(f->cmd->c.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
    e = errno;
  fed_down(f, e ? strerror(e) : "no answer");
}

/* Both connections go; the chat runs alone until retry_cb. The first
 * time, stderr and the members are told once. */
static void fed_down(sk__fed_t *f, const char *why) {
  redisAsyncContext *cmd = f->cmd, *sub = f->sub;
  bool was_ready = f->ready;
  f->cmd = f->sub = NULL;
  f->ready = f->subscribed = f->have_ids = f->ids_asked = false;
  f->id_spare = 0; /* a Redis that restarted may hand it out again */
  if (!f->stopping)
    uv_timer_stop(&f->wait);
  if (cmd)
    redisAsyncFree(cmd);
  if (sub)
    redisAsyncFree(sub);
  if (f->stopping) {
    fed_stopped(f);
    return;
  }
  if (f->tls_err[0]) /* the tunnel knows better than hiredis */
    why = f->tls_err;
  if (!f->down_told) {
    f->down_told = true;
    sk__hub_notice(f->h,
                   "federation: redis %s:%d %s (%s): running alone, retrying",
                   f->host, f->port, was_ready ? "lost" : "unreachable", why);
    if (was_ready) {
      const char *t = "*** federation lost: the other servers are out of "
                      "reach; this server's rooms go on\n";
      sk__msg_t *m = sk__msg_new(t, strlen(t));
      if (m) {
        sk__hub_broadcast(f->h, m, NULL);
        sk__msg_unref(m);
      }
    }
  }
  f->tls_err[0] = '\0';
  uv_timer_start(&f->retry, retry_cb, f->backoff, 0);
  f->backoff =
      f->backoff * 2 < FED_BACKOFF_MAX ? f->backoff * 2 : FED_BACKOFF_MAX;
}

static void connect_cb(const redisAsyncContext *ac, int status) {
  sk__fed_t *f = ac->data;
  if (status != REDIS_OK && (ac == f->cmd || ac == f->sub)) {
    /* hiredis frees ac itself after this callback */
    if (ac == f->cmd)
      f->cmd = NULL;
    else
      f->sub = NULL;
    fed_down(f, ac->errstr[0] ? ac->errstr : "cannot connect");
  }
}

static void disconnect_cb(const redisAsyncContext *ac, int status) {
  sk__fed_t *f = ac->data;
  (void)status;
  if (ac == f->cmd || ac == f->sub) {
    if (ac == f->cmd)
      f->cmd = NULL;
    else
      f->sub = NULL;
    fed_down(f, ac->errstr[0] ? ac->errstr : "connection closed");
  }
}

/* hiredis on the loop. Not hiredis's own libuv adapter: that one
 * ignores a poll error, and libuv stops a poll that failed, so a refused
 * connect or a reset connection would never be seen by hiredis and its
 * context would outlive the loop. Here an error is handed to hiredis as
 * readiness: its read, write or connect check then finds the error. */
typedef struct fed_ev {
  sk__endpoint_t ep;     /* hiredis's socket, which hiredis closes */
  redisAsyncContext *ac; /* NULL once hiredis let go */
} fed_ev_t;

/* Whether more bytes wait on fd now. */
static bool fed_ev_more(int fd) {
  int n = 0;
  return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

static void fed_ev_cb(uv_poll_t *p, int status, int events) {
  fed_ev_t *e = ((sk__endpoint_t *)p->data)->owner;
  if (status < 0)
    events = e->ep.events ? e->ep.events : UV_READABLE;
  /* hiredis reads 16 KiB a call: what waits (FED_READ_TURNS calls at
   * most) is taken in this turn, so that the members' flush after it
   * writes every line that came, not 16 KiB's worth a turn. */
  for (int i = 0; e->ac && (events & UV_READABLE) && i < FED_READ_TURNS; i++) {
    redisAsyncHandleRead(e->ac);
    if (!e->ac || !fed_ev_more(e->ac->c.fd))
      break;
  }
  if (e->ac && (events & UV_WRITABLE))
    redisAsyncHandleWrite(e->ac);
  if (status < 0 && e->ac) /* libuv stopped it: hiredis did not */
    sk__endpoint_watch(&e->ep, e->ep.events, fed_ev_cb);
}

static void fed_ev_set(fed_ev_t *e, int events) {
  sk__endpoint_watch(&e->ep, events, fed_ev_cb);
}

static void fed_ev_add_read(void *d) {
  fed_ev_set(d, ((fed_ev_t *)d)->ep.events | UV_READABLE);
}
static void fed_ev_del_read(void *d) {
  fed_ev_set(d, ((fed_ev_t *)d)->ep.events & ~UV_READABLE);
}
static void fed_ev_add_write(void *d) {
  fed_ev_set(d, ((fed_ev_t *)d)->ep.events | UV_WRITABLE);
}
static void fed_ev_del_write(void *d) {
  fed_ev_set(d, ((fed_ev_t *)d)->ep.events & ~UV_WRITABLE);
}

static void fed_ev_closed(uv_handle_t *h) {
  free(((sk__endpoint_t *)h->data)->owner);
}

static void fed_ev_cleanup(void *d) {
  fed_ev_t *e = d;
  e->ac = NULL;
  if (!sk__endpoint_close(&e->ep, fed_ev_closed))
    free(e);
}

static int fed_ev_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  fed_ev_t *e = calloc(1, sizeof *e);
  if (!e)
    return REDIS_ERR;
  if (sk__endpoint_adopt(&e->ep, loop, e, ac->c.fd) != 0) {
    free(e);
    return REDIS_ERR;
  }
  e->ac = ac;
  ac->ev.data = e;
  ac->ev.addRead = fed_ev_add_read;
  ac->ev.delRead = fed_ev_del_read;
  ac->ev.addWrite = fed_ev_add_write;
  ac->ev.delWrite = fed_ev_del_write;
  ac->ev.cleanup = fed_ev_cleanup;
  return REDIS_OK;
}

/* ---- rediss://: hiredis 0.14 has no TLS. It talks plaintext over a
 * Unix socket to the engine, which relays to Redis through a TLS session
 * (sk_relay_start on the chat's loop), verified as --ssl verifies. ---- */

typedef struct fed_tunnel {
  sk__fed_t *f;
  struct fed_tunnel *prev, *next; /* f->tunnels */
  bool relaying;
  int a, b;       /* a: our end of hiredis's socket; b: TCP to Redis */
  uv_poll_t conn; /* b connecting */
  sk_tls_t *tls;
  bool failed;
  char peer[SK_ADDRSTR_LEN];
} fed_tunnel_t;

/* The tunnel is over: hiredis sees its socket end (and fed_down says
 * why, when why is given). */
static void tunnel_end(fed_tunnel_t *t, const char *why) {
  if (why && why[0] && !t->f->tls_err[0])
    snprintf(t->f->tls_err, sizeof t->f->tls_err, "%s", why);
  if (t->prev)
    t->prev->next = t->next;
  else
    t->f->tunnels = t->next;
  if (t->next)
    t->next->prev = t->prev;
  close(t->a);
  if (t->b >= 0)
    close(t->b);
  sk_tls_free(t->tls);
  free(t);
}

static void tunnel_done(void *arg, int rc, sk_stop_t reason, const char *err,
                        const sk_relay_stats_t *stats) {
  (void)reason;
  (void)stats;
  tunnel_end(arg, rc < 0 ? err : NULL);
}

/* The connect watch is closed (one poll per descriptor): the relay may
 * take b now. */
static void tunnel_connected(uv_handle_t *h) {
  fed_tunnel_t *t = h->data;
  sk__fed_t *f = t->f;
  char err[SK_ERR_LEN];
  if (t->failed) {
    tunnel_end(t, NULL);
    return;
  }
  sk_relay_opts_t o = {
      .in_fd = -1, .out_fd = -1, .half_close = true, .peer_name = t->peer};
  sk_relay_side_t a = {t->a, t->a, "redis client", NULL};
  sk_relay_side_t b = {t->b, t->b, t->peer, NULL};
  if (sk_tls_new(err, &t->tls, f->tls_ctx, t->b, f->host, t->peer) < 0) {
    tunnel_end(t, err);
    return;
  }
  o.tls = t->tls;
  t->relaying = true;
  if (sk_relay_start(f->h->e, err, &a, &b, &o, tunnel_done, t) < 0)
    tunnel_end(t, err);
}

/* Stopping: a tunnel still connecting ends now (a relaying one ends
 * with the engine's stop, or when hiredis lets its socket go). */
static void tunnels_stop(sk__fed_t *f) {
  for (fed_tunnel_t *t = f->tunnels; t; t = t->next)
    if (!t->relaying && !uv_is_closing((uv_handle_t *)&t->conn)) {
      t->failed = true;
      uv_close((uv_handle_t *)&t->conn, tunnel_connected);
    }
}

/* 0 when b is connected, else why not (libuv may have taken SO_ERROR
 * already: a refused connect is then found by reading). */
static int tunnel_connect_error(int b) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int e = 0;
  char c;
  socklen_t elen = sizeof e;
  if (getsockopt(b, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
    return errno;
  if (e || getpeername(b, (struct sockaddr *)&ss, &len) == 0)
    return e;
  return recv(b, &c, 1, MSG_PEEK) < 0 && errno != EAGAIN ? errno : ENOTCONN;
}

static void tunnel_poll_cb(uv_poll_t *p, int status, int events) {
  fed_tunnel_t *t = p->data;
  int e = tunnel_connect_error(t->b);
  (void)status;
  (void)events;
  if (e) {
    snprintf(t->f->tls_err, sizeof t->f->tls_err, "connect %.64s: %.100s",
             t->peer, strerror(e));
    t->failed = true;
  }
  uv_close((uv_handle_t *)p, tunnel_connected);
}

/* Connects to Redis for the hiredis socket whose other end is a. */
static int tunnel_start(sk__fed_t *f, int a) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
  char port[8];
  fed_tunnel_t *t;
  snprintf(port, sizeof port, "%d", f->port);
  int rc = getaddrinfo(f->host, port, &hints, &ai);
  if (rc != 0) {
    snprintf(f->tls_err, sizeof f->tls_err, "%.100s: %.100s", f->host,
             gai_strerror(rc));
    return -1;
  }
  if (!(t = calloc(1, sizeof *t))) {
    freeaddrinfo(ai);
    return -1;
  }
  t->f = f;
  t->a = a;
  sk_sockaddr_format(ai->ai_addr, ai->ai_addrlen, t->peer, sizeof t->peer);
  t->b = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (t->b < 0 ||
      (connect(t->b, ai->ai_addr, ai->ai_addrlen) < 0 &&
       errno != EINPROGRESS) ||
      uv_poll_init(fed_loop(f->h), &t->conn, t->b) < 0) {
    snprintf(f->tls_err, sizeof f->tls_err, "connect %.64s: %.100s", t->peer,
             strerror(errno));
    freeaddrinfo(ai);
    t->a = -1; /* the caller's still */
    if (t->b >= 0)
      close(t->b);
    free(t);
    return -1;
  }
  freeaddrinfo(ai);
  t->conn.data = t;
  uv_poll_start(&t->conn, UV_WRITABLE, tunnel_poll_cb);
  t->next = f->tunnels;
  if (t->next)
    t->next->prev = t;
  f->tunnels = t;
  return 0;
}

/* hiredis connected to a Unix socket that lives for a moment in a
 * private directory: the engine takes the other end and relays. */
static redisAsyncContext *tunnel_open(sk__fed_t *f) {
  char dir[] = "/tmp/sockit-fed-XXXXXX";
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  redisAsyncContext *ac = NULL;
  int l = -1, a = -1;
  if (!mkdtemp(dir))
    return NULL;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/redis", dir);
  if ((l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
      bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 1) == 0)
    ac = redisAsyncConnectUnix(sa.sun_path);
  if (ac && !ac->err)
    a = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (l >= 0)
    close(l);
  unlink(sa.sun_path);
  rmdir(dir);
  if (ac && (a < 0 || tunnel_start(f, a) < 0)) {
    if (a >= 0)
      close(a);
    redisAsyncFree(ac);
    ac = NULL;
  }
  return ac;
}

static redisAsyncContext *fed_open_one(sk__fed_t *f) {
  redisAsyncContext *ac =
      f->url.tls ? tunnel_open(f) : redisAsyncConnect(f->host, f->port);
  if (!ac)
    return NULL;
  if (ac->err || fed_ev_attach(ac, fed_loop(f->h)) != REDIS_OK) {
    redisAsyncFree(ac);
    return NULL;
  }
  ac->data = f;
  redisAsyncSetConnectCallback(ac, connect_cb);
  redisAsyncSetDisconnectCallback(ac, disconnect_cb);
  if (f->pass[0])
    redisAsyncCommand(ac, check_cb, f, "AUTH %s", f->pass);
  return ac;
}

static void fed_connect(sk__fed_t *f) {
  if (f->stopping || f->cmd || f->sub || (f->url.tls && !f->tls_ctx))
    return;
  if (!(f->cmd = fed_open_one(f)) || !(f->sub = fed_open_one(f))) {
    fed_down(f, "cannot connect");
    return;
  }
  uv_timer_start(&f->wait, wait_cb, FED_CONNECT_MS, 0);
  if (f->db)
    redisAsyncCommand(f->cmd, check_cb, f, "SELECT %d", f->db);
  redisAsyncCommand(f->cmd, ids_cb, f, "INCRBY " FED_PREFIX "ids %d", FED_IDS);
  redisAsyncCommand(f->sub, sub_cb, f, "PSUBSCRIBE " FED_PREFIX "*");
}

/* ---- the heartbeat, the TTL, stopping ---- */

/* Every ttl / 3: this server says it lives and renews its names; a
 * server not heard from for the TTL is gone, and so are its members. */
static void beat_cb(uv_timer_t *t) {
  sk__fed_t *f = t->data;
  sk__hub_t *h = f->h;
  uint64_t now = uv_now(fed_loop(h));
  if (f->ready) {
    fed_publish(f, FED_SERVER_CHAN, 'B', "", "", "", 0);
    fed_alive(f);
    /* the name keys' own expiry, renewed every third of it: a beat is
     * a third of the TTL (a TTL over FED_NAME_HOLD_S: every beat) */
    uint64_t every = FED_NAME_HOLD_S * 1000ull / f->ttl_ms;
    if (++f->beats % (every ? every : 1) == 0)
      fed_claim_all(f);
  }
  for (uint32_t i = 0; i < f->n_origins; i++)
    if (f->origins[i].heard_at && now - f->origins[i].heard_at > f->ttl_ms) {
      origin_drop(f, (uint16_t)i, "server lost");
      f->origins[i].heard_at = 0;
    }
}

static void stop_cb(uv_timer_t *t) {
  fed_down(t->data, "stopping"); /* frees what Redis has not answered */
}

/* The hub is stopping: the others are told, then Redis is let go
 * (FED_STOP_MS at most), so that nothing of ours keeps the loop. */
static void watch_cb(uv_prepare_t *p) {
  sk__fed_t *f = p->data;
  if (!f->h->stopping || f->stopping)
    return;
  fed_publish(f, FED_SERVER_CHAN, 'X', "", "", "", 0);
  f->stopping = true;
  uv_close((uv_handle_t *)&f->retry, NULL);
  uv_close((uv_handle_t *)&f->beat, NULL);
  uv_close((uv_handle_t *)&f->wait, NULL);
  uv_close((uv_handle_t *)&f->watch, NULL);
  tunnels_stop(f);
  if (f->sub) {
    redisAsyncContext *sub = f->sub;
    f->sub = NULL;
    redisAsyncFree(sub);
  }
  /* The timer holds the loop (FED_STOP_MS at most), so that hiredis's
   * contexts are always freed on a running loop, never left behind. */
  uv_ref((uv_handle_t *)&f->stop);
  uv_timer_start(&f->stop, stop_cb, FED_STOP_MS, 0);
  if (f->cmd)
    redisAsyncDisconnect(f->cmd); /* after the replies pending */
  fed_stopped(f);
}

static void fed_timer(sk__fed_t *f, uv_timer_t *t) {
  uv_timer_init(fed_loop(f->h), t);
  t->data = f;
  uv_unref((uv_handle_t *)t);
}

/* The port this server listens on, for its default name. */
static int fed_port(const sk__hub_t *h) {
  sk__peer_t a;
  socklen_t len = sizeof a;
  if (getsockname(h->listen_fd, &a.sa, &len) < 0)
    return 0;
  return ntohs(a.sa.sa_family == AF_INET6 ? a.in6.sin6_port : a.in.sin_port);
}

/* server name: --federate-name, or the host name and the port. */
static void fed_name(sk__fed_t *f) {
  const sk_hub_opts_t *o = &f->h->opts;
  char host[64] = "sockit";
  if (o->federate_name) {
    snprintf(f->name, sizeof f->name, "%s", o->federate_name);
    return;
  }
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  snprintf(f->name, sizeof f->name, "%.20s:%d", host, fed_port(f->h));
}

int sk__fed_open(sk__hub_t *h) {
  chat_t *ch = sk__chat_of(h);
  char err[SK_ERR_LEN];
  if (!h->opts.federate)
    return 0;
  sk__fed_t *f = calloc(1, sizeof *f);
  if (!f)
    return -ENOMEM;
  ch->fed = f;
  f->h = h;
  f->out_cap = sk__chat_line_cap(h) + 512;
  if ((f->out = malloc(f->out_cap)) == NULL)
    return -ENOMEM;
  if (sk__fed_url_parse(err, h->opts.federate, &f->url) < 0)
    return -EINVAL; /* checked by the caller before */
  f->host = f->url.host;
  f->pass = f->url.pass;
  f->port = f->url.port;
  f->db = f->url.db;
  if (f->url.tls && fed_tls_ctx(err, &f->url, &f->tls_ctx) < 0)
    sk__hub_notice(h, "federation: %s: running alone", err); /* checked */
  fed_name(f);
  f->ttl_ms = (h->opts.federate_ttl ? h->opts.federate_ttl : 10) * 1000ull;
  f->epoch = (uint64_t)time(NULL) * 1000000ull + (uint64_t)getpid() % 1000000;
  f->backoff = FED_BACKOFF_MIN;
  fed_timer(f, &f->retry);
  fed_timer(f, &f->beat);
  fed_timer(f, &f->stop);
  fed_timer(f, &f->wait);
  uv_prepare_init(fed_loop(h), &f->watch);
  f->watch.data = f;
  uv_unref((uv_handle_t *)&f->watch);
  uv_prepare_start(&f->watch, watch_cb);
  uv_timer_start(&f->beat, beat_cb, f->ttl_ms / 3, f->ttl_ms / 3);
  fed_connect(f);
  return 0;
}

void sk__fed_close(sk__hub_t *h) {
  sk__fed_t *f = fed_of(h);
  if (!f)
    return;
  /* The loop is closed by now: whatever Redis handle is left was closed
   * by the hub's walk, so only memory is freed here. */
  while (f->n_remote > 0)
    remote_del(f, &f->remote[f->n_remote - 1]);
  free(f->remote);
  free(f->idx);
  free(f->out);
  sk_tls_ctx_free(f->tls_ctx);
  free(f);
  sk__chat_of(h)->fed = NULL;
}

/* ---- /who and /rooms across the federation ---- */

typedef struct who_out {
  char *buf;
  size_t o, max;
  uint32_t n, shown;
  bool full;
} who_out_t;

static void who_add(who_out_t *w, const char *name, const char *server,
                    const char *room, bool you) {
  w->n++;
  if (w->full)
    return;
  int n = snprintf(w->buf + w->o, w->max - w->o, "%s %s (on %s%s%s%s)",
                   w->shown ? "," : "", name, server, room ? ", " : "",
                   room ? room : "", you ? ", you" : "");
  if (n < 0 || w->o + (size_t)n >= w->max) {
    w->full = true; /* the rest is counted */
    return;
  }
  w->o += (size_t)n;
  w->shown++;
}

static bool room_is(const char *a, const char *room, size_t len) {
  return strlen(a) == len && strncasecmp(a, room, len) == 0;
}

size_t sk__fed_who(sk__hub_t *h, const char *room, size_t room_len,
                   const chat_conn_t *me) {
  sk__fed_t *f = fed_of(h);
  char list[SK__CHAT_WHO_MAX], head[96];
  who_out_t w = {list, 0, SK__CHAT_WHO_MAX - 128, 0, 0, false};
  for (uint32_t i = 0; i < h->n_conns; i++) {
    chat_conn_t *m = (chat_conn_t *)h->conns[i];
    if (m->base.left || !m->room ||
        (room && !room_is(m->room->name, room, room_len)))
      continue;
    who_add(&w, m->name, f->name, room ? NULL : m->room->name, m == me);
  }
  for (uint32_t i = 0; i < f->n_remote; i++) {
    fed_remote_t *r = &f->remote[i];
    if (!room || room_is(r->room, room, room_len))
      who_add(&w, r->name, f->origins[r->origin].name, room ? NULL : r->room,
              false);
  }
  snprintf(head, sizeof head, "*** %u in %.*s:", w.n, room ? (int)room_len : 9,
           room ? room : "all rooms");
  char *out = sk__chat_line(h);
  size_t o = (size_t)snprintf(out, 128, "%s", head);
  memcpy(out + o, list, w.o);
  o += w.o;
  if (w.shown < w.n)
    o += (size_t)snprintf(out + o, 64, ", and %u more", w.n - w.shown);
  out[o++] = '\n';
  return o;
}

#define ROOMS_SHOWN 128

typedef struct room_count {
  const char *name;
  uint32_t n;
} room_count_t;

static void room_count(room_count_t *c, uint32_t *n, const char *name,
                       uint32_t k) {
  for (uint32_t i = 0; i < *n; i++)
    if (strcasecmp(c[i].name, name) == 0) {
      c[i].n += k;
      return;
    }
  if (*n < ROOMS_SHOWN)
    c[(*n)++] = (room_count_t){name, k};
}

/* "*** 2 rooms: #lobby (3), #dev (1)" with the other servers' members. */
size_t sk__fed_rooms(sk__hub_t *h) {
  sk__fed_t *f = fed_of(h);
  room_count_t c[ROOMS_SHOWN];
  uint32_t n = 0;
  for (chat_room_t *r = sk__chat_of(h)->rooms; r; r = r->next)
    room_count(c, &n, r->name, r->n_members);
  for (uint32_t i = 0; i < f->n_remote; i++)
    room_count(c, &n, f->remote[i].room, 1);
  char *out = sk__chat_line(h);
  size_t o, max = SK__CHAT_WHO_MAX - 64;
  uint32_t shown = 0;
  o = (size_t)snprintf(out, max, "*** %u room%s:", n, n == 1 ? "" : "s");
  for (uint32_t i = 0; i < n; i++) {
    int w = snprintf(out + o, max - o, "%s %s (%u)", shown ? "," : "",
                     c[i].name, c[i].n);
    if (w < 0 || o + (size_t)w >= max)
      break;
    o += (size_t)w;
    shown++;
  }
  if (shown < n)
    o += (size_t)snprintf(out + o, 64, ", and %u more", n - shown);
  out[o++] = '\n';
  return o;
}
