/* UTF-8: validation, safe cut points and terminal-safe copies. */
#include <stdlib.h>
#include <string.h>

#include "sockit/io.h"
#include "sockit/utf8.h"

size_t sk_utf8_seq_len(const unsigned char *s, size_t len, uint32_t *cp) {
  uint32_t c, min;
  size_t n, i;
  if (len == 0)
    return 0;
  c = s[0];
  if (c < 0x80) {
    n = 1, min = 0;
  } else if ((c & 0xe0) == 0xc0) {
    n = 2, min = 0x80, c &= 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, min = 0x800, c &= 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, min = 0x10000, c &= 0x07;
  } else {
    return 0;
  }
  if (n > len)
    return 0;
  for (i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  if (cp)
    *cp = c;
  return n;
}

/* Bytes in the sequence that lead byte c starts, or 0 if c is no lead. */
static size_t lead_len(unsigned char c) {
  if (c >= 0xc2 && c <= 0xdf)
    return 2;
  if (c >= 0xe0 && c <= 0xef)
    return 3;
  if (c >= 0xf0 && c <= 0xf4)
    return 4;
  return 0;
}

/* True when s[0..n) (a lead, then continuation bytes) could still become
 * a valid character: only the second byte has extra limits. */
static int is_truncated_lead(const unsigned char *s, size_t n) {
  size_t need = lead_len(s[0]);
  if (need == 0 || n >= need)
    return 0;
  if (n < 2)
    return 1;
  switch (s[0]) {
  case 0xe0: /* no overlong 3-byte forms */
    return s[1] >= 0xa0;
  case 0xed: /* no surrogates */
    return s[1] < 0xa0;
  case 0xf0: /* no overlong 4-byte forms */
    return s[1] >= 0x90;
  case 0xf4: /* nothing past U+10FFFF */
    return s[1] < 0x90;
  }
  return 1;
}

size_t sk_utf8_boundary(const char *buf, size_t len) {
  const unsigned char *s = (const unsigned char *)buf;
  size_t back;
  /* A character is at most 4 bytes: look at the last 3 for a lead. */
  for (back = 1; back <= 3 && back <= len; back++) {
    unsigned char c = s[len - back];
    if ((c & 0xc0) != 0x80)
      return is_truncated_lead(s + len - back, back) ? len - back : len;
  }
  return len;
}

/* Appends the UTF-8 form of cp; returns bytes written or 0 if no room. */
static size_t put_cp(char *out, size_t room, uint32_t cp) {
  if (cp < 0x800 && room >= 2) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (room < 3)
    return 0;
  out[0] = (char)(0xe0 | (cp >> 12));
  out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[2] = (char)(0x80 | (cp & 0x3f));
  return 3;
}

/* The visible stand-in for a control character, or 0 to keep cp. */
static uint32_t control_picture(uint32_t cp) {
  if (cp == '\t' || cp == '\n')
    return 0;
  if (cp < 0x20)
    return 0x2400 + cp; /* U+2400..U+241F: NUL..US */
  if (cp == 0x7f)
    return 0x2421; /* DEL */
  if (cp >= 0x80 && cp <= 0x9f)
    return 0xfffd; /* C1: a terminal may read 0x9b as CSI */
  /* Invisible characters that change how the rest of the line shows:
   * direction overrides and isolates ("Trojan Source"), line and
   * paragraph separators, zero-width characters and the BOM. Each is
   * 3 bytes, as U+FFFD, so the worst case size stays the same. */
  if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
      cp == 0x2028 || cp == 0x2029 || (cp >= 0x200b && cp <= 0x200d) ||
      cp == 0xfeff)
    return 0xfffd;
  return 0;
}

size_t sk_utf8_sanitize(const char *in, size_t len, char *out, size_t cap) {
  const unsigned char *s = (const unsigned char *)in;
  size_t i = 0, o = 0;
  if (cap == 0)
    return 0;
  while (i < len) {
    uint32_t cp = 0;
    size_t n = sk_utf8_seq_len(s + i, len - i, &cp), w = 0;
    uint32_t pic = n ? control_picture(cp) : 0xfffd;
    if (pic) {
      w = put_cp(out + o, cap - 1 - o, pic);
    } else if (o + n < cap) {
      memcpy(out + o, s + i, n);
      w = n;
    }
    if (w == 0)
      break;
    o += w;
    i += n ? n : 1;
  }
  out[o] = '\0';
  return o;
}

long sk_utf8_count(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  long count = 0;
  while (i < len) {
    size_t n = sk_utf8_seq_len(u + i, len - i, NULL);
    if (n == 0)
      return -1;
    i += n;
    count++;
  }
  return count;
}

int sk_utf8_print_line(FILE *out, const char *prefix, const char *text,
                       size_t len) {
  len = sk_line_strip(text, len);
  size_t cap = SK_UTF8_SANITIZED_MAX(len);
  char *shown = malloc(cap);
  if (!shown)
    return -1;
  sk_utf8_sanitize(text, len, shown, cap);
  int rc = fprintf(out, "%s%s\n", prefix, shown) < 0 ? -1 : 0;
  free(shown);
  return fflush(out) == 0 ? rc : -1;
}
