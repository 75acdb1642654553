/*
 * -C: the one LF-to-CRLF converter of every mode (the relay, -k, the
 * broker), so that "send each LF as CRLF" means the same everywhere.
 */
#include "internal.h"

size_t sk__crlf_convert(const char *in, size_t len, char *out, int *last) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i]; /* read before out[o] may overwrite it (in place) */
    if (c == '\n' && *last != '\r')
      out[o++] = '\r';
    out[o++] = c;
    *last = (unsigned char)c;
  }
  return o;
}
