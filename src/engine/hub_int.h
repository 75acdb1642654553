/*
 * sockit (internal): the hub's connections, shared by hub.c (listener,
 * lifecycle, fan-out, backpressure) and the modes in broker.c and
 * chat.c, plus the chat's pure helpers for the unit tests.
 */
#ifndef SOCKIT_HUB_INT_H
#define SOCKIT_HUB_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <uv.h>

#include "bufq.h"
#include "endpoint.h"
#include "engine.h"
#include "internal.h"
#include "lines.h"
#include "hub.h"
#include "nick.h"
#include "sockit/utf8.h"

/* The shared read buffer: one per loop, since callbacks run one at a
 * time and every reader copies out what it keeps before returning. */
#define SK__HUB_RBUF (64 * 1024)

/* A connection that has left but whose output is not taken in this
 * long is closed anyway. */
#define SK__HUB_DRAIN_MS 10000

/*
 * Flow control. A client whose queue passes max_queue / 2 is congested:
 * the hub stops reading from every client (and the operator) until it is
 * back under max_queue / 4, so that a fast sender cannot push healthy
 * readers over the limit. A client congested for this long is dropped,
 * so a stuck one delays the others by this much at most; past max_queue
 * a client is dropped at once.
 */
#define SK__HUB_STALL_MS 2000

/*
 * The stall budget belongs to an address, not a connection: an address
 * whose client was dropped for stalling is remembered this long (in a
 * table of SK__HUB_OFFENDERS entries, oldest replaced), and its next
 * client that stalls is shed at once instead of holding the room 2 s
 * again, so that reconnecting does not renew the budget.
 */
#define SK__HUB_OFFENCE_MS 60000
/*
 * A federated chat server gathers: after a pass that wrote
 * SK__HUB_GATHER_LINES lines or more to its members it waits as long as
 * that pass took (SK__HUB_GATHER_MAX_MS at most) before the next, while
 * lines keep coming; after fewer lines it waits that share of it, after
 * one line (light input) not at all. A pass costs one send per member
 * however few lines it carries; one server holding every member gathers
 * by itself, since its longer pass lets more lines come meanwhile, and
 * three servers that each flush at once make three times the sends for
 * the same lines. Under light load the wait would only add latency.
 */
#define SK__HUB_GATHER_LINES 8
#define SK__HUB_GATHER_MAX_MS 20
/*
 * A flush writes to members for this long at most, then lets the loop
 * poll before it goes on where it stopped (a pass over the dirty
 * members spans turns). A line read meanwhile joins the queues of the
 * members the pass has not reached yet, so it reaches the last member
 * within one pass, not after the pass in progress and one more.
 */
#define SK__HUB_SLICE_US 2000
#define SK__HUB_OFFENDERS 64

typedef enum sk__conn_state {
  SK__CONN_OPEN,     /* a member: reading (unless paused), sent to */
  SK__CONN_DOOMED,   /* queue overflowed during a fan-out: closed at flush */
  SK__CONN_DRAINING, /* has left: not reading, sending what is queued */
  SK__CONN_CLOSING,  /* uv_close called; freed by the close callback */
  SK__CONN_STATE_END
} sk__conn_state_t;

/* Why a connection ends; a negative value is a uv error code instead. */
enum sk__why {
  SK__WHY_EOF = 1,  /* the client closed */
  SK__WHY_QUIT,     /* chat: /quit */
  SK__WHY_IDLE,     /* sent nothing for idle_timeout_ms */
  SK__WHY_OVERFLOW, /* output queue over max_queue */
  SK__WHY_STALLED,  /* congested for SK__HUB_STALL_MS */
  SK__WHY_RESTALL,  /* congested again: its address used its budget */
  SK__WHY_STUCK,    /* left, but did not take its output in time */
  SK__WHY_STOP,     /* the hub is stopping */
};

typedef struct sk__hub sk__hub_t;
typedef struct sk__conn sk__conn_t;

typedef union sk__peer {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
} sk__peer_t;

struct sk__conn {
  /* The member is an endpoint with a queue: a socket today, any kind
   * that answers sk__endpoint_read and sk__endpoint_write_queue later
   * (TLS, WebSocket); the hub never touches the descriptor itself. */
  sk__endpoint_t ep; /* ep.owner is the connection */
  sk__hub_t *hub;
  sk__bufq_t q;
  sk__conn_t *dirty_next, *dirty_prev; /* the hub's queues to flush */
  uint32_t pass; /* the flush pass that writes it (hub->pass or one more) */
  uint64_t last_active;   /* uv_now of its last bytes, or of leaving */
  uint32_t index;         /* in hub->conns */
  uint8_t state;          /* sk__conn_state_t */
  bool dirty, left, shut, congested;
  bool reading; /* UV_READABLE is wanted */
  bool held; /* reads stopped with unread input kept by the mode */
  int why; /* enum sk__why or a uv error, once it is ending */
  uint64_t congested_at;
  sk__peer_t peer;
  sk__conn_t *hs_prev, *hs_next; /* TLS: the hub's handshaking list */
};

/* What differs between -k, --broker and --chat. */
typedef struct sk__hub_mode {
  size_t conn_size;     /* a mode's connection struct starts with sk__conn_t */
  const char *full_msg; /* sent to a client refused by max_conns, or NULL */
  bool out_drops;       /* out_fd falling behind is dropped, not waited on */
  bool out_lossy;       /* out_fd falling behind loses lines, counted */
  bool read_split;      /* a read is one message: cut it to fit a queue */
  bool console;         /* operator input is commands: read with no client */
  int (*init)(sk__hub_t *h);
  void (*fini)(sk__hub_t *h);
  void (*on_join)(sk__conn_t *c);
  void (*on_data)(sk__conn_t *c, const char *data, size_t len);
  void (*on_eof)(sk__conn_t *c);
  void (*on_leave)(sk__conn_t *c);
  void (*on_free)(sk__conn_t *c);
  void (*on_input)(sk__hub_t *h, const char *data, size_t len); /* 0: EOF */
  void (*on_turn)(sk__hub_t *h); /* once per loop turn, before the flush */
  void (*on_held)(sk__conn_t *c); /* reads may go on: take the kept input */
} sk__hub_mode_t;

extern const sk__hub_mode_t sk__hub_keep, sk__hub_broker, sk__hub_chat;

struct sk__hub {
  sk_engine_t *e; /* the loop core: the caller's loop, stop, log */
  sk__part_t part; /* how sk_engine_stop() reaches the hub */
  uv_loop_t *loop;
  const sk__hub_mode_t *mode;
  sk_hub_opts_t opts; /* with the defaults filled in */
  void *mode_data;
  char *err;
  sk_stop_t reason; /* why it stops: done, error, or the caller asked */
  bool loop_ready, stop_requested, stopping, finished;
  sk__conn_t *hs_head; /* TLS clients still handshaking: not members */
  bool reading;         /* clients are being read */
  bool out_paused;      /* stdout is over max_queue behind */
  bool out_detached;    /* stdout fell behind (--broker) or failed */
  uint64_t out_dropped; /* --chat: log lines lost since it fell behind */
  uint32_t n_congested; /* clients over max_queue / 2 */
  uint32_t n_held;      /* clients with kept input (sk__conn_hold) */
  size_t read_max;      /* bytes per client read */

  int listen_fd, reserve_fd;
  uv_poll_t listener;
  bool listening;      /* the poll watcher is started */
  bool accept_backoff; /* out of descriptors: waiting for accept_timer */
  uv_timer_t accept_timer, sweep_timer, stall_timer;
  uv_idle_t kick; /* keeps the loop from blocking while work is dirty */
  uv_check_t flush;
  uv_timer_t gather_timer; /* ends a flush put off by gathering */
  bool gather;             /* federated: see SK__HUB_GATHER_MAX_MS */
  uint64_t flush_after;    /* µs (uv_hrtime): no member flush before */
  uint32_t pass;           /* the pass in progress, or the next one */
  bool in_pass;            /* a pass has begun and not reached its end */
  uint32_t pass_lines;     /* lines its first member had queued */
  uint64_t pass_t0;        /* µs: when it began */
  uint64_t last_emfile_notice;

  struct sk__offender { /* addresses whose client stalled */
    uint8_t addr[16];
    uint64_t at; /* uv_now of the drop; 0: free slot */
  } offenders[SK__HUB_OFFENDERS];

  /* The operator's stdin and stdout: endpoints like the members; stdout
   * has a queue of the same shared messages. */
  sk__endpoint_t in, out;
  sk__bufq_t outq;
  int out_error; /* first write error of stdout, sticky */
  bool in_open, out_open;
  bool in_reading; /* input is wanted now */
  size_t in_cap;   /* bytes per read of input */
  uv_idle_t in_idle; /* reads an input that cannot be polled (a file) */
  bool in_held; /* the mode keeps operator input: read no more for now */
  int crlf_last; /* last operator byte, for LF to CRLF */

  struct sk__web *web; /* --web: the browser side (web.c), or NULL */
  sk__conn_t **conns; /* members, draining ones included */
  uint32_t n_conns, cap_conns, n_open;
  sk__conn_t *dirty_head, *dirty_tail;

  char rbuf[SK__HUB_RBUF];
  char inbuf[SK__HUB_RBUF]; /* its own: the mode may keep operator input */
};

/* ---- for the modes (hub.c) ---- */

/* Queues a reference to m for c unless c is not open; overflow dooms c. */
void sk__conn_send(sk__conn_t *c, sk__msg_t *m);
/* Queues m for every open connection but except (which may be NULL). */
void sk__hub_broadcast(sk__hub_t *h, sk__msg_t *m, const sk__conn_t *except);
/* Copies len bytes into a new message and sends it to c alone. */
void sk__conn_send_copy(sk__conn_t *c, const char *data, size_t len);
/* Leaves politely: stops reading, sends what is queued, then closes. */
void sk__conn_finish(sk__conn_t *c, int why);
/* Leaves at once, dropping what is queued. */
void sk__conn_close(sk__conn_t *c, int why);
/* The mode keeps unread input of c: no client is read until the mode's
 * on_held has taken it and called sk__conn_unhold. */
void sk__conn_hold(sk__conn_t *c);
void sk__conn_unhold(sk__conn_t *c);
/* The same for the operator's input (sk__hub_input_hold(h, false) when
 * the mode has taken what it kept). */
void sk__hub_input_hold(sk__hub_t *h, bool on);
/* Makes the connected stream socket fd a member as if it had been
 * accepted from sa: the access list, max_conns and notices apply to sa
 * (--web adopts one end of a socket pair with the browser's address).
 * tls: fd speaks TLS, the hub's context does the handshake (the
 * listener's clients with --ssl); a --web pair is plaintext, its TLS is
 * lws's. Takes fd in every case. */
void sk__hub_adopt(sk__hub_t *h, int fd, const struct sockaddr *sa,
                   socklen_t len, bool tls);
/* Reads must pause: a queue is over the high-water mark or input held. */
bool sk__hub_busy(const sk__hub_t *h);
/* Makes sure the current loop turn reaches the flush (and on_turn). */
void sk__hub_kick(sk__hub_t *h);
/* Writes m to out_fd, if there is one, under the mode's policy. */
void sk__hub_output(sk__hub_t *h, sk__msg_t *m);
/* "127.0.0.1:5555" */
void sk__conn_peer_format(const sk__conn_t *c, char *buf, size_t n);
/* A short text for a why, such as "idle for 30 s". */
const char *sk__why_text(const sk__hub_t *h, int why, char *buf, size_t n);
/* "sockit: ..." and a newline on stderr. */
void sk__hub_notice(const sk__hub_t *h, const char *fmt, ...) SK__PRINTF(2, 3);

/* ---- the browser side (web.c) ---- */

/* Starts the web client and WebSocket endpoint on opts.web_port when it
 * is set: each WebSocket becomes a member through sk__hub_adopt. Returns
 * 0, or a negative code with one line in err. */
int sk__web_open(char *err, sk__hub_t *h);
/* A WebSocket is still open: stopping waits for its close handshake
 * (up to the hub's stop timer). */
bool sk__web_busy(const sk__hub_t *h);
/* The web side calls this when its last WebSocket has closed. */
void sk__hub_stop_check(sk__hub_t *h);
/* Closes the endpoint and what is left of its connections (lws goes on
 * closing its handles on the loop); idempotent. */
void sk__web_close(sk__hub_t *h);
/* Once the loop has run out: finishes lws's teardown and frees. */
void sk__web_free(sk__hub_t *h);

/* ---- pure helpers (broker.c, chat.c), exposed for the unit tests ---- */


/* Bytes sk__chat_format needs for a text of len bytes. */
#define SK__CHAT_LINE_MAX(len) (SK__NICK_BYTES + 4 + SK_UTF8_SANITIZED_MAX(len))

/* A line without a newline is delivered whole once its sender has sent
 * nothing more for this long (what input() in a tutorial sends). */
#define SK__CHAT_PARTIAL_MS 200

/*
 * Writes "<name> text\n" with the text made terminal-safe by
 * sk_utf8_sanitize. Returns the bytes written, without a NUL.
 */
size_t sk__chat_format(char *out, size_t cap, const char *name,
                       const char *text, size_t len);

/* "2026-11-25T09:41:02Z" (20 characters and a NUL). */
void sk__chat_stamp(char out[21], time_t t);

#endif
