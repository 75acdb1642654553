/*
 * sockit's engine: the loop core every mode runs on. The caller (main)
 * owns the uv_loop_t, the signals, stderr and the exit codes; a mode
 * (the relay, the hub, the chat client) runs on the caller's loop until
 * it ends or sk_engine_stop() asks it to, and tells what happened
 * through the log callback and the stop reason. The engine never
 * prints, never installs a signal handler and never exits.
 */
#ifndef SOCKIT_ENGINE_H
#define SOCKIT_ENGINE_H

#include <stdbool.h>
#include <uv.h>

#include "internal.h" /* SK__PRINTF */

/* Every stop gives what is buffered this long to drain, then closes. */
#define SK_ENGINE_FLUSH_MS 2000

/* How long a TLS peer may take to finish its handshake (ms): 10 s, or
 * the idle bound idle_ms (-i, -w) when that is shorter. One that
 * connects and never speaks must not keep a descriptor, a session and,
 * with -m, a slot for ever. The hub, serve and -l --ssl all ask here. */
#define SK_ENGINE_HANDSHAKE_MS (10 * 1000)
static inline int sk_engine_handshake_ms(int idle_ms) {
  return idle_ms > 0 && idle_ms < SK_ENGINE_HANDSHAKE_MS
             ? idle_ms
             : SK_ENGINE_HANDSHAKE_MS;
}

/* Why a run ended; main maps it to an exit code. */
typedef enum sk_stop {
  SK_STOP_NONE = 0, /* still running */
  SK_STOP_DONE,     /* the job is over: EOF both ways, peer closed, -q */
  SK_STOP_IDLE,     /* -w / -i: no traffic for the timeout */
  SK_STOP_SIGINT,   /* the caller asked: Ctrl-C (exit 130) */
  SK_STOP_SIGTERM,  /* the caller asked: kill (exit 143) */
  SK_STOP_ERROR,    /* a runtime error, one line in err (exit 1) */
} sk_stop_t;

typedef enum sk_log_level {
  SK_LOG_ERROR,    /* "sockit: ..." */
  SK_LOG_NOTICE,   /* "sockit: ..." (-v notices, drops, limits) */
  SK_LOG_NC,       /* -v lines in OpenBSD nc's exact words, no prefix */
  SK_LOG_PROGRESS, /* --progress: the line as is (may carry \r, ESC[K
                      and no newline: it rewrites itself on a tty) */
} sk_log_level_t;

/* One line, without its newline (except SK_LOG_PROGRESS, as is). */
typedef void (*sk_log_cb)(void *ctx, sk_log_level_t level, const char *line);

typedef struct sk_engine sk_engine_t;

/* One running part (a relay, the hub, the chat client): how it stops
 * (reading ends, what is buffered drains for SK_ENGINE_FLUSH_MS, then
 * it closes; asked again while draining, it closes at once). */
typedef struct sk__part {
  void (*on_stop)(void *mode, sk_stop_t reason);
  void *mode;
  struct sk__part *prev, *next;
  /* The flush deadline (sk__engine_deadline), made on first use. */
  uv_timer_t deadline;
  void (*on_deadline)(void *mode);
  bool deadline_ready;
} sk__part_t;

struct sk_engine {
  uv_loop_t *loop; /* the caller's */
  sk_log_cb log;   /* NULL: nothing is said */
  void *log_ctx;
  sk_stop_t reason; /* why the last run ended (the first reason wins) */
  sk__part_t *parts; /* what sk_engine_stop() reaches: every part running */
};

/* Prepares e on the caller's loop; log may be NULL. */
void sk_engine_init(sk_engine_t *e, uv_loop_t *loop, sk_log_cb log,
                    void *log_ctx);

/* Asks the running mode to stop (from a signal watcher, a timer, any
 * callback on the loop). Without a running mode, only notes reason. */
void sk_engine_stop(sk_engine_t *e, sk_stop_t reason);

/* Notes the reason a run ends, unless one is noted already. */
void sk__engine_reason(sk_engine_t *e, sk_stop_t reason);

/* Formats one line and gives it to the log callback. */
void sk__engine_log(const sk_engine_t *e, sk_log_level_t level,
                    const char *fmt, ...) SK__PRINTF(3, 4);

/* A part starts and ends its run: what sk_engine_stop() reaches. The
 * first part of a run clears the stop reason. */
void sk__engine_attach(sk_engine_t *e, sk__part_t *part, void *mode,
                       void (*on_stop)(void *mode, sk_stop_t reason));
void sk__engine_detach(sk_engine_t *e, sk__part_t *part);

/* The one flush deadline, for every mode: from the first call of a run
 * on, the part has SK_ENGINE_FLUSH_MS to drain what it buffered, then
 * on_deadline(mode) closes what is left. Later calls change nothing
 * (a second stop request closes at once: the mode's on_stop does it). */
void sk__engine_deadline(sk_engine_t *e, sk__part_t *part,
                         void (*on_deadline)(void *mode));

/* Stops the deadline (the part is done) and, when cb is given, closes
 * its timer for a part that closes its own handles (the relay; the
 * timer's data is then the mode). Returns 1 when cb will be called. */
int sk__engine_part_close(sk__part_t *part, uv_close_cb cb);

/* The one end of a run, for every mode (the relay, serve/forward/exec,
 * the UDP forwarder, the hub, the chat client): runs the caller's loop
 * until no part keeps it running, then the final teardown
 * (sk__engine_teardown). A part closes its own handles as it ends (any
 * number of relays share one loop); the teardown closes what is left. */
void sk__engine_run(sk_engine_t *e);

/* The final teardown: closes every handle of the loop that is not the
 * caller's (a caller's handle has data == e: main's signal watchers)
 * and is not closing already, then runs the loop until all are closed.
 * Also for a setup that failed half-way, before its memory goes. */
void sk__engine_teardown(sk_engine_t *e);

#endif
