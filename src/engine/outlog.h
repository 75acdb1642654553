/*
 * Output logs (-o, --hex-dump): every byte a relay moves, in the order
 * it moves, written to a file as it is read. One log serves every relay
 * of a run (-k, forwarding). A relay with a log moves its bytes with
 * read/write (spliced bytes never reach user space), and taps each read.
 */
#ifndef SOCKIT_OUTLOG_H
#define SOCKIT_OUTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef enum sk_outlog_dir {
  SK_OUTLOG_SENT,
  SK_OUTLOG_RECEIVED
} sk_outlog_dir_t;

/* One file: raw bytes, or a hex dump. */
typedef struct sk__logfile {
  int fd; /* -1: none, or stopped after a write failure */
  bool hex;
  const char *path; /* for the one failure line */
  int last_dir;     /* hex: the direction of the last header, or -1 */
  uint64_t offset;  /* hex: bytes in the current direction's block */
} sk__logfile_t;

typedef struct sk_outlog {
  sk__logfile_t raw, dump;
} sk_outlog_t;

/* Opens the files asked for (path NULL: none): truncated, or appended
 * to with append. Returns 0, or a negative code with one line in err. */
int sk_outlog_open(sk_outlog_t *log, char *err, const char *raw_path,
                   const char *hex_path, bool append);

/* Whether any file is open. */
bool sk_outlog_active(const sk_outlog_t *log);

/* Writes what moved; a failed write is said once through e's log, and
 * that file is written no more (the relay goes on). */
void sk__outlog_tap(sk_outlog_t *log, sk_engine_t *e, sk_outlog_dir_t dir,
                    const char *data, size_t len);

void sk_outlog_close(sk_outlog_t *log);

#endif
