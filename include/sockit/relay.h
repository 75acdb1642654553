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

/* Exit codes shared by every long-running sockit job. */
enum sk_exit {
  SK_EXIT_OK = 0,
  SK_EXIT_ERROR = 1,    /* runtime error: refused, reset, timeout, I/O */
  SK_EXIT_USAGE = 2,    /* bad flags, ports or addresses */
  SK_EXIT_SIGINT = 130, /* 128 + SIGINT, after flushing */
  SK_EXIT_SIGTERM = 143 /* 128 + SIGTERM, after flushing */
};

typedef struct sk_relay_opts {
  int in_fd;            /* bytes to send (stdin), or -1: --recv-only */
  int out_fd;           /* received bytes (stdout), or -1: --send-only */
  bool shutdown_on_eof; /* -N: shutdown(SHUT_WR) after input EOF */
  bool crlf;            /* -C: send each LF as CRLF (CRLF stays CRLF) */
  int idle_timeout_ms;  /* -w: end after this long without traffic */
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
} sk_relay_opts_t;

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
 * after idle_timeout_ms without traffic, or on SIGINT / SIGTERM; every
 * end flushes what is buffered (for up to 2 s). Descriptors it sets
 * non-blocking get their flags back; it closes none of the caller's,
 * even when it fails to start. Returns an sk_exit code; on failure err
 * holds one line. stats may be NULL.
 */
int sk_relay_run(char *err, int fd, const sk_relay_opts_t *opts,
                 sk_relay_stats_t *stats);

/* Formats a byte count as "512 B", "1.5 KiB", "3.2 GiB". */
void sk_bytes_format(uint64_t bytes, char *buf, size_t len);

#endif
