/*
 * sockit: the full-duplex relay between a socket and stdin/stdout, on
 * libuv, with backpressure, half-close and a zero-copy fast path.
 */
#ifndef SOCKIT_RELAY_H
#define SOCKIT_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "engine.h"

/*
 * A transforming step on one direction of a relay (opts' up_filter or
 * down_filter): each read of the source (at most in_max bytes) goes
 * through fn, and what fn writes to out is what the destination gets.
 * fn is called once more with n 0 at the source's end (EOF, or a read
 * error) to emit what it carries, an unfinished line say. Whatever it
 * is given and carries, one call writes at most out_max bytes: the
 * relay reads only while that much room is free in the direction's
 * buffer (2 * out_max at least), so nothing is allocated per byte and
 * the buffer bounds the direction's memory. fn returns the bytes
 * written, or a negative errno, which fails the relay ("filter: ...").
 * A filtered direction moves with read/write, never splice or
 * sendfile (the bytes must reach user space, as with -o: the log and
 * the stats see what the filter made); -C and datagram ends do not go
 * with a filter (the start fails: EINVAL).
 */
typedef struct sk_relay_filter {
  ssize_t (*fn)(void *arg, const char *in, size_t n, char *out);
  void *arg;
  size_t in_max, out_max;
} sk_relay_filter_t;

/*
 * Side a's own reads and writes in place of its descriptors' (opts'
 * a_io): a line editor at a terminal, a terminal written whole. They
 * answer as read(2) and write(2) do: bytes; 0 for EOF (read); -1 with
 * errno, EAGAIN meaning nothing until poll finds the descriptor ready.
 * read is called again while it returns bytes, so it must not block
 * (a write may: what it takes is taken whole, never short). NULL: the
 * descriptor's own call. Side a's descriptors keep their flags (no
 * O_NONBLOCK: an editor's stdio blocks); the relay only polls them.
 */
typedef struct sk_relay_io {
  ssize_t (*read)(void *arg, char *buf, size_t len);
  ssize_t (*write)(void *arg, const char *buf, size_t len);
  void *arg;
} sk_relay_io_t;

typedef struct sk_relay_opts {
  int in_fd;            /* bytes to send (stdin), or -1: --recv-only */
  int out_fd;           /* received bytes (stdout), or -1: --send-only */
  bool shutdown_on_eof; /* -N: shutdown(SHUT_WR) after input EOF */
  bool crlf;            /* -C: send each LF as CRLF (CRLF stays CRLF) */
  int idle_timeout_ms;  /* -w: end after this long without traffic */
  int handshake_timeout_ms; /* a TLS handshake not done this long after
                               the start fails (0: only the idle bound) */
  bool progress;        /* --progress: rate on stderr once a second
                           (one line rewritten when stderr is a tty) */
  bool verbose;         /* -v: final byte counts on stderr */
  bool no_zero_copy;    /* never splice/sendfile (for measurements) */
  size_t buf_size;      /* bytes per direction; 0 means 256 KiB */
  bool quit_after_eof;  /* -q: stop quit_after_eof_ms after input EOF */
  int quit_after_eof_ms;
  /* Datagram sockets only: */
  bool dgram_listen;    /* unconnected: reply to the peer that spoke last */
  bool dgram_all_peers; /* -k: send input to every peer heard from */
  const struct sk_acl *acl; /* dgram_listen: drop datagrams it refuses */
  const char *peer_name; /* for messages; NULL: asked of the socket, which
                            a peer that has reset no longer answers */
  /* sk_relay_start/join: each direction ends on its own, a stream
   * socket it wrote to getting shutdown(SHUT_WR); the relay ends when
   * both have (forwarding). Without, b's EOF ends the relay (nc). */
  bool half_close;
  /* -o / --hex-dump: every byte read is written there (a relay with a
   * log moves with read/write: spliced bytes never reach user space).
   * "sent" is a's bytes to b, "received" b's to a. NULL: none. */
  struct sk_outlog *log;
  /* TLS sessions (the caller's, freed by it) on side b's socket (for
   * sk_relay_run: fd) and on side a's, or NULL. Each must be on one
   * stream socket (rfd == wfd). The relay runs the handshake, moves the
   * records through one 16 KiB buffer per direction and sends
   * close_notify at the end. Here rather than in sk_relay_side_t, whose
   * positional initialisers a new field would break. */
  struct sk_tls *tls;
  struct sk_tls *a_tls;
  /* Kept by reference (the caller's, alive while the relay runs), or
   * NULL: up_filter on a's bytes to b, down_filter on b's to a, a_io
   * for side a's calls (see above). The chat client is a relay with
   * all three (chat_client.c). */
  const sk_relay_filter_t *up_filter, *down_filter;
  const sk_relay_io_t *a_io;
  /* Side a's (b's) descriptor is one stream socket the caller made
   * non-blocking (accept4 or socket with SOCK_NONBLOCK) and owns: the
   * relay asks the kernel nothing about it (SO_TYPE, F_GETFL), two
   * calls per end that a forwarder would make per connection. Side b's
   * was also connected just now and not read yet: its first read waits
   * for poll (level-triggered: bytes already there are reported at
   * once) rather than meeting EAGAIN, which is what a target that
   * speaks when spoken to answers first. */
  bool a_stream, b_stream;
  /* With half_close: the caller closes both sides' sockets in done and
   * nobody else holds them, so the last direction's FIN is left to that
   * close(2) (the same FIN, a call fewer) instead of a shutdown(2) just
   * before it. Only after the other direction read its EOF from that
   * socket: close(2) on unread bytes would send a reset instead. */
  bool closes_after;
} sk_relay_opts_t;

/* One side of a relay: where it reads and where it writes. The two may
 * be one descriptor (a socket) or two (stdin and stdout, a child's
 * pipes); -1 for a half that is not used. Names are for messages. */
typedef struct sk_relay_side {
  int rfd, wfd;
  const char *rname; /* "stdin", "127.0.0.1:80" */
  const char *wname; /* NULL: rname */
} sk_relay_side_t;

typedef struct sk_relay_stats {
  uint64_t sent;     /* bytes written to the socket */
  uint64_t received; /* bytes read from the socket */
} sk_relay_stats_t;

/*
 * Relays between the connected (or, for datagrams, bound) socket fd and
 * opts' descriptors, as nc 1.219 and ncat 7.93 do: input EOF ends
 * sending (with shutdown_on_eof, a half-close; with quit_after_eof, the
 * relay ends quit_after_eof_ms later); network EOF ends the relay once
 * what arrived is written to out_fd, even while input is still open. It
 * also ends when a side fails, when out_fd is closed (EPIPE: exit 0),
 * after idle_timeout_ms without traffic, or when sk_engine_stop(e)
 * asks; every end flushes what is buffered (for up to
 * SK_ENGINE_FLUSH_MS). Runs on e's loop (e NULL: on a loop of its own)
 * and closes only its own handles. Descriptors it sets non-blocking get
 * their flags back; it closes none of the caller's, even when it fails
 * to start. Returns 0, or a negative code with one line in err (-EIO for
 * a failure during the run); e->reason says why it ended. Notices and
 * --progress lines go to e's log callback. stats may be NULL.
 */
int sk_relay_run(sk_engine_t *e, char *err, int fd,
                 const sk_relay_opts_t *opts, sk_relay_stats_t *stats);

/* The end of a relay started with sk_relay_start: rc 0 or a negative
 * code (err: one line), why it ended, the bytes each way. The relay's
 * memory is released on the loop afterwards; nothing of the caller's is
 * closed. */
typedef void (*sk_relay_done_cb)(void *arg, int rc, sk_stop_t reason,
                                 const char *err,
                                 const sk_relay_stats_t *stats);

/*
 * Starts joining side a to side b on e's loop and returns: 0, and done
 * is called once when the relay ends; or a negative code with one line
 * in err, and done is never called. opts is copied (acl, the filters
 * and a_io are kept by reference). Any number of relays may run on one
 * loop; sk_engine_stop(e) stops every one. What exec and forwarding
 * build on.
 */
int sk_relay_start(sk_engine_t *e, char *err, const sk_relay_side_t *a,
                   const sk_relay_side_t *b, const sk_relay_opts_t *opts,
                   sk_relay_done_cb done, void *done_arg);

/*
 * The relay proper: joins side a to side b on e's loop, a's reads to
 * b's writes ("up", with -C and the send-side options) and b's reads to
 * a's writes ("down"); opts->in_fd and out_fd are not used. b is the
 * one whose datagrams, peers and EOF the options speak of (the
 * network). Each direction moves with the cheapest call its two
 * descriptors allow: sendfile, splice through a pipe, read/write.
 * Returns and ends as sk_relay_run (e NULL: on a loop of its own).
 */
int sk_relay_join(sk_engine_t *e, char *err, const sk_relay_side_t *a,
                  const sk_relay_side_t *b, const sk_relay_opts_t *opts,
                  sk_relay_stats_t *stats);

#endif
