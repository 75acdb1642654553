/* sockit: whole writes, exact reads and bounded line reads. */
#ifndef SOCKIT_IO_H
#define SOCKIT_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "sockit/error.h"

/*
 * Writes all len bytes, looping over partial writes, EINTR and (on a
 * non-blocking descriptor) EAGAIN. Never raises SIGPIPE on a socket.
 * Returns len, or -errno; bytes before the error may have been sent.
 */
SK_API ssize_t sk_send_all(int fd, const void *buf, size_t len);

/*
 * Reads exactly len bytes unless EOF comes first. Returns the count
 * read (short only at EOF) or -errno.
 */
SK_API ssize_t sk_read_exact(int fd, void *buf, size_t len);

#define SK_LINE_BUF 8192

/* A buffered reader that splits a descriptor's bytes into lines. */
typedef struct sk_line_reader {
  int fd;
  size_t start, end;
  int skipping; /* discarding the rest of an over-long line */
  char buf[SK_LINE_BUF];
} sk_line_reader_t;

SK_API void sk_line_reader_init(sk_line_reader_t *r, int fd);

/*
 * Reads one line into line (NUL-terminated, '\n' kept). Returns its
 * length; 0 at EOF; a final line without '\n' is returned as it is.
 * A line that does not fit in cap - 1 bytes returns SK_ETOOLONG, and
 * the rest of it is discarded. Other failures return -errno.
 */
SK_API ssize_t sk_line_read(sk_line_reader_t *r, char *line, size_t cap);

/* Length of line without one trailing "\n" or "\r\n". */
SK_API size_t sk_line_strip(const char *line, size_t len);

#endif
