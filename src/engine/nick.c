/* Chat names: NFKC, refused characters and confusable keys, with ICU. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include "nick.h"
#include "sockit/utf8.h"

/* UTF-16 units for a name: NFKC can expand a character up to 18 times
 * (U+FDFA), so the input is cut long before that matters. */
#define U16_CAP (SK__NICK_BYTES * 4)

struct sk__nicks {
  USpoofChecker *spoof;
  const UNormalizer2 *nfkc, *fold;
};

sk__nicks_t *sk__nicks_open(void) {
  UErrorCode e = U_ZERO_ERROR;
  sk__nicks_t *n = calloc(1, sizeof *n);
  if (!n)
    return NULL;
  n->spoof = uspoof_open(&e);
  n->nfkc = unorm2_getNFKCInstance(&e);
  n->fold = unorm2_getNFKCCasefoldInstance(&e);
  if (U_FAILURE(e)) {
    sk__nicks_close(n);
    return NULL;
  }
  return n;
}

void sk__nicks_close(sk__nicks_t *n) {
  if (!n)
    return;
  if (n->spoof)
    uspoof_close(n->spoof);
  free(n);
}

static bool is_variation_selector(UChar32 c) {
  return (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xe0100 && c <= 0xe01ef) ||
         (c >= 0x180b && c <= 0x180d) || c == 0x180f;
}

/* UTF-8 to UTF-16 without variation selectors (emoji and glyph
 * variants draw the same name). Returns units, or -1. */
static int32_t to_u16(const char *s, size_t len, UChar *out) {
  UChar tmp[U16_CAP];
  int32_t n = 0, o = 0;
  UErrorCode e = U_ZERO_ERROR;
  u_strFromUTF8(tmp, U16_CAP, &n, s, (int32_t)len, &e);
  if (U_FAILURE(e) || e == U_STRING_NOT_TERMINATED_WARNING)
    return -1;
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    int32_t at = i;
    U16_NEXT(tmp, i, n, c);
    if (!is_variation_selector(c))
      while (at < i)
        out[o++] = tmp[at++];
  }
  return o;
}

static bool is_mark(UChar32 c) {
  int8_t t = u_charType(c);
  return t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK ||
         t == U_COMBINING_SPACING_MARK;
}

/* Why c may not be in a name, or NULL when it may. */
static const char *char_refused(UChar32 c) {
  switch (u_charType(c)) {
  case U_CONTROL_CHAR:
  case U_FORMAT_CHAR:
  case U_SURROGATE:
    return "has a control or formatting character";
  case U_PRIVATE_USE_CHAR:
  case U_UNASSIGNED:
    return "has a private-use or unassigned character";
  case U_SPACE_SEPARATOR:
  case U_LINE_SEPARATOR:
  case U_PARAGRAPH_SEPARATOR:
    return "has a space";
  default:
    break;
  }
  /* Blank glyphs that are letters or symbols to Unicode: the braille
   * blank and the Hangul fillers (the latter default-ignorable too). */
  if (u_isUWhiteSpace(c) || c == 0x2800 ||
      u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
      c == 0x3164 || c == 0xffa0 || c == 0x115f || c == 0x1160)
    return "has an invisible character";
  if (c == '<' || c == '>')
    return "has < or >";
  return NULL;
}

/* Checks a normalised name; returns NULL or why it is refused. */
static const char *name_refused(const UChar *u, int32_t n) {
  int32_t chars = 0, marks = 0;
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U16_NEXT(u, i, n, c);
    const char *why = char_refused(c);
    if (why)
      return why;
    marks = is_mark(c) ? marks + 1 : 0;
    if (marks > 0 && chars == 0)
      return "starts with a combining mark";
    if (marks > SK__NICK_MARKS)
      return "stacks combining marks";
    chars++;
  }
  if (chars == 0)
    return "is empty";
  return chars > SK__NICK_CHARS ? "is over 32 characters" : NULL;
}

int sk__nick_normalize(const sk__nicks_t *nk, const char *name, size_t len,
                       char *out, size_t *out_len, const char **why) {
  UChar raw[U16_CAP], norm[U16_CAP];
  UErrorCode e = U_ZERO_ERROR;
  int32_t n, o = 0;
  *why = "is over 32 characters";
  if (len > SK__NICK_BYTES * 2)
    return -EINVAL;
  *why = "is not valid UTF-8";
  if (sk_utf8_count(name, len) < 0 || (n = to_u16(name, len, raw)) < 0)
    return -EINVAL;
  n = unorm2_normalize(nk->nfkc, raw, n, norm, U16_CAP, &e);
  *why = "is over 32 characters";
  if (U_FAILURE(e) || e == U_STRING_NOT_TERMINATED_WARNING)
    return -EINVAL;
  if ((*why = name_refused(norm, n)) != NULL)
    return -EINVAL;
  u_strToUTF8(out, SK__NICK_BYTES + 1, &o, norm, n, &e);
  *why = "is over 32 characters";
  if (U_FAILURE(e) || e == U_STRING_NOT_TERMINATED_WARNING)
    return -EINVAL;
  *out_len = (size_t)o;
  *why = NULL;
  return 0;
}

/* The confusable skeleton of s (UTF-8) into key; 0 or -EINVAL. */
static int skeleton(const sk__nicks_t *nk, const char *s, int32_t len,
                    char *key) {
  UErrorCode e = U_ZERO_ERROR;
  int32_t n =
      uspoof_getSkeletonUTF8(nk->spoof, 0, s, len, key, SK__NICK_KEY_BYTES, &e);
  if (U_FAILURE(e) || n >= SK__NICK_KEY_BYTES)
    return -EINVAL;
  key[n] = '\0';
  return 0;
}

int sk__nick_keys(const sk__nicks_t *nk, const char *name, size_t len,
                  char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES]) {
  UChar raw[U16_CAP], fold[U16_CAP];
  char folded[SK__NICK_KEY_BYTES];
  UErrorCode e = U_ZERO_ERROR;
  int32_t n, o = 0;
  if (len > SK__NICK_BYTES || (n = to_u16(name, len, raw)) < 0)
    return -EINVAL;
  n = unorm2_normalize(nk->fold, raw, n, fold, U16_CAP, &e);
  u_strToUTF8(folded, sizeof folded, &o, fold, n, &e);
  if (U_FAILURE(e) || o >= (int32_t)sizeof folded)
    return -EINVAL;
  if (skeleton(nk, folded, o, keys[0]) < 0)
    return -EINVAL;
  return skeleton(nk, name, (int32_t)len, keys[1]);
}

static int name_keys(const sk__nicks_t *nk, const char *s,
                     char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES]) {
  char norm[SK__NICK_BYTES + 1];
  size_t n;
  const char *why;
  if (sk__nick_normalize(nk, s, strlen(s), norm, &n, &why) < 0)
    return -EINVAL;
  return sk__nick_keys(nk, norm, n, keys);
}

bool sk__nick_same(const sk__nicks_t *nk, const char *a, const char *b) {
  char ka[SK__NICK_KEYS][SK__NICK_KEY_BYTES],
      kb[SK__NICK_KEYS][SK__NICK_KEY_BYTES];
  if (name_keys(nk, a, ka) < 0 || name_keys(nk, b, kb) < 0)
    return false;
  for (int i = 0; i < SK__NICK_KEYS; i++)
    if (strcmp(ka[i], kb[i]) == 0)
      return true;
  return false;
}
