/* Output logs: the raw log and the hex dump, written as bytes move. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "outlog.h"

#define HEX_CHUNK 64 /* dump lines formatted per write: bounded stack */
#define HEX_LINE 96

static int logfile_open(sk__logfile_t *f, char *err, const char *path, bool hex,
                        bool append) {
  *f = (sk__logfile_t){.fd = -1, .hex = hex, .path = path, .last_dir = -1};
  if (!path)
    return 0;
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  if ((f->fd = open(path, flags, 0644)) < 0)
    return sk__fail(err, -errno, "%s %s: %s", hex ? "--hex-dump" : "-o", path,
                    strerror(errno));
  return 0;
}

int sk_outlog_open(sk_outlog_t *log, char *err, const char *raw_path,
                   const char *hex_path, bool append) {
  int rc = logfile_open(&log->raw, err, raw_path, false, append);
  if (rc == 0 &&
      (rc = logfile_open(&log->dump, err, hex_path, true, append)) < 0)
    sk_outlog_close(log);
  return rc;
}

bool sk_outlog_active(const sk_outlog_t *log) {
  return log && (log->raw.fd >= 0 || log->dump.fd >= 0);
}

/* The whole buffer, or the file is given up: one line, no more writes. */
static void logfile_write(sk__logfile_t *f, sk_engine_t *e, const char *buf,
                          size_t len) {
  while (len > 0 && f->fd >= 0) {
    ssize_t n = write(f->fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      sk__engine_log(e, SK_LOG_ERROR, "write to %s: %s; logging stops", f->path,
                     n < 0 ? strerror(errno) : "nothing written");
      close(f->fd);
      f->fd = -1;
      return;
    }
    buf += n;
    len -= (size_t)n;
  }
}

/* "00000010  41 42 ... 4f  |AB..O|": offset, 16 bytes in hex (a gap
 * after 8), then the printable ones ('.' for the rest). */
static size_t hex_line(char *out, uint64_t offset, const unsigned char *d,
                       size_t n) {
  size_t at =
      (size_t)snprintf(out, HEX_LINE, "%08llx ", (unsigned long long)offset);
  for (size_t i = 0; i < 16; i++) {
    if (i == 8)
      out[at++] = ' ';
    if (i < n)
      at += (size_t)snprintf(out + at, 4, " %02x", d[i]);
    else
      at += (size_t)snprintf(out + at, 4, "   ");
  }
  out[at++] = ' ';
  out[at++] = ' ';
  out[at++] = '|';
  for (size_t i = 0; i < n; i++)
    out[at++] = d[i] >= 0x20 && d[i] < 0x7f ? (char)d[i] : '.';
  out[at++] = '|';
  out[at++] = '\n';
  return at;
}

static void dump_write(sk__logfile_t *f, sk_engine_t *e, sk_outlog_dir_t dir,
                       const unsigned char *data, size_t len) {
  char buf[HEX_CHUNK * HEX_LINE];
  size_t at = 0;
  if (f->last_dir != (int)dir) {
    at = (size_t)snprintf(buf, sizeof buf, "%s\n",
                          dir == SK_OUTLOG_SENT ? "[sent]" : "[received]");
    f->last_dir = (int)dir;
    f->offset = 0;
  }
  while (len > 0) {
    size_t n = len < 16 ? len : 16;
    at += hex_line(buf + at, f->offset, data, n);
    f->offset += n;
    data += n;
    len -= n;
    if (sizeof buf - at < HEX_LINE || len == 0) {
      logfile_write(f, e, buf, at);
      at = 0;
    }
  }
  if (at)
    logfile_write(f, e, buf, at);
}

void sk__outlog_tap(sk_outlog_t *log, sk_engine_t *e, sk_outlog_dir_t dir,
                    const char *data, size_t len) {
  if (!log || len == 0)
    return;
  if (log->raw.fd >= 0)
    logfile_write(&log->raw, e, data, len);
  if (log->dump.fd >= 0)
    dump_write(&log->dump, e, dir, (const unsigned char *)data, len);
}

void sk_outlog_close(sk_outlog_t *log) {
  if (log->raw.fd >= 0)
    close(log->raw.fd);
  if (log->dump.fd >= 0)
    close(log->dump.fd);
  log->raw.fd = log->dump.fd = -1;
}
