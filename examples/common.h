/*
 * What the tutorial's six programs share: their command line, reading
 * messages from a TCP peer, and printing what a peer sent.
 *
 * Messages are lines. The tutorial's own Python programs send what
 * input() returns, with no newline, and then wait for an answer; a
 * reader that waited for the newline would wait forever. So the rule,
 * the same as the chat server's (`sockit --chat`): bytes that end without
 * a newline are delivered as a whole message once the sender has sent
 * nothing more for EX_QUIET_MS milliseconds.
 */
#ifndef SOCKIT_EXAMPLES_COMMON_H
#define SOCKIT_EXAMPLES_COMMON_H

#include <stddef.h>
#include <sys/types.h>

#define EX_QUIET_MS 200

/*
 * Parses `name [host [port]]`. -h or --help prints usage on stdout.
 * Returns -1 to go on (host and port set, defaults 127.0.0.1 2333), or
 * the exit status to end with: 0 after help, 2 after a usage error (one
 * line on stderr).
 */
int ex_args_parse(int argc, char **argv, const char *name, const char *summary,
                  const char **host, const char **port);

typedef struct ex_reader ex_reader_t;

/* A message reader on fd for messages of up to max bytes (without their
 * line ending); NULL when out of memory. Release it with free(). */
ex_reader_t *ex_reader_new(int fd, size_t max);

/*
 * The next message: a line (ending kept), or the bytes held when the
 * sender fell quiet for EX_QUIET_MS. *msg points into the reader until
 * the next call. Returns its length; 0 at EOF; SK_ETOOLONG once for a
 * message over max bytes, whose rest is dropped (up to its newline or
 * the next quiet period); -errno on a read error.
 */
ssize_t ex_reader_next(ex_reader_t *r, const char **msg);

/* Length of msg without one trailing "\n" or "\r\n", and without a
 * trailing "\r" alone (a message may end quietly after it). */
size_t ex_message_strip(const char *msg, size_t len);

/*
 * Prints prefix and a datagram as one line, made safe for a terminal
 * (sk_utf8_sanitize). One trailing line ending is dropped; any other LF
 * shows as U+240A, so no datagram can print a second, forged line.
 */
void ex_print_datagram(const char *prefix, const char *data, size_t len);

#endif
