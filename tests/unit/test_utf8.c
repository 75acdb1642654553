/* Unit tests for utf8.c: validation, cut points and terminal-safe text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "sockit/utf8.h"

#define U(s) ((const unsigned char *)(s))

/* Expects the sequence at s to be valid, n bytes long, coding cp. */
static void seq_is(const char *s, size_t len, size_t n, uint32_t cp) {
  uint32_t got = 0xffffffff;
  assert_int_equal(sk_utf8_seq_len(U(s), len, &got), n);
  assert_int_equal(got, cp);
}

/* Expects s[0..len) to start no valid sequence. */
static void seq_bad(const char *s, size_t len) {
  assert_int_equal(sk_utf8_seq_len(U(s), len, NULL), 0);
}

/* Sanitizes s with a roomy buffer and expects want. */
static void sanitized_is(const char *s, size_t len, const char *want) {
  char out[256];
  size_t n = sk_utf8_sanitize(s, len, out, sizeof out);
  assert_string_equal(out, want);
  assert_int_equal(n, strlen(want));
}

/* Valid 1..4 byte characters decode to their code points. */
static void test_seq_len_valid(void **state) {
  (void)state;
  seq_is("A", 1, 1, 'A');
  seq_is("\0", 1, 1, 0);
  seq_is("\x7f", 1, 1, 0x7f);
  seq_is("\xc2\x80", 2, 2, 0x80);
  seq_is("\xc3\xa9", 2, 2, 0xe9);
  seq_is("\xdf\xbf", 2, 2, 0x7ff);
  seq_is("\xe0\xa0\x80", 3, 3, 0x800);
  seq_is("\xe4\xbd\xa0", 3, 3, 0x4f60); /* 你 */
  seq_is("\xef\xbf\xbd", 3, 3, 0xfffd);
  seq_is("\xf0\x90\x80\x80", 4, 4, 0x10000);
  seq_is("\xf0\x9f\x98\x80", 4, 4, 0x1f600); /* 😀 */
  seq_is("\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff);
  /* Only the first character counts. */
  seq_is("\xe4\xbd\xa0xyz", 6, 3, 0x4f60);
}

/* Overlongs, surrogates, out-of-range and cut sequences are refused. */
static void test_seq_len_invalid(void **state) {
  (void)state;
  seq_bad("", 0);
  seq_bad("\xc0\x80", 2);
  seq_bad("\xc1\xbf", 2);
  seq_bad("\xe0\x80\x80", 3);
  seq_bad("\xe0\x9f\xbf", 3);
  seq_bad("\xf0\x80\x80\x80", 4);
  seq_bad("\xf0\x8f\xbf\xbf", 4);
  seq_bad("\xed\xa0\x80", 3);     /* U+D800 */
  seq_bad("\xed\xbf\xbf", 3);     /* U+DFFF */
  seq_bad("\xf4\x90\x80\x80", 4); /* U+110000 */
  seq_bad("\xf5\x80\x80\x80", 4);
  seq_bad("\xf8\x88\x80\x80\x80", 5);
  seq_bad("\xff", 1);
  seq_bad("\x80", 1);
  seq_bad("\xbf", 1);
  seq_bad("\xe4\xbd", 2); /* truncated by len */
  seq_bad("\xe4\xbd\xa0", 2);
  seq_bad("\xf0\x9f\x98", 3);
  seq_bad("\xe4\x41\xa0", 3); /* continuation byte missing */
}

/* A cut 你 (E4 BD A0) or 😀 (F0 9F 98 80) is held back, whole ones not. */
static void test_boundary_holds_back_cut_chars(void **state) {
  static const char ni[] = "ab\xe4\xbd\xa0";
  static const char emoji[] = "ab\xf0\x9f\x98\x80";
  (void)state;
  assert_int_equal(sk_utf8_boundary(ni, 5), 5);
  assert_int_equal(sk_utf8_boundary(ni, 4), 2);
  assert_int_equal(sk_utf8_boundary(ni, 3), 2);
  assert_int_equal(sk_utf8_boundary(ni + 2, 1), 0);
  assert_int_equal(sk_utf8_boundary(emoji, 6), 6);
  assert_int_equal(sk_utf8_boundary(emoji, 5), 2);
  assert_int_equal(sk_utf8_boundary(emoji, 4), 2);
  assert_int_equal(sk_utf8_boundary(emoji, 3), 2);
  assert_int_equal(sk_utf8_boundary("", 0), 0);
  assert_int_equal(sk_utf8_boundary("abc", 3), 3);
  assert_int_equal(sk_utf8_boundary("\xc3", 1), 0);
}

/* Bytes that can never become a character pass through the cut. */
static void test_boundary_keeps_invalid(void **state) {
  (void)state;
  assert_int_equal(sk_utf8_boundary("ab\xff", 3), 3);
  assert_int_equal(sk_utf8_boundary("ab\xc0", 3), 3);
  assert_int_equal(sk_utf8_boundary("ab\xf5", 3), 3);
  assert_int_equal(sk_utf8_boundary("ab\x80", 3), 3);
  assert_int_equal(sk_utf8_boundary("\x80\x80\x80\x80", 4), 4);
  assert_int_equal(sk_utf8_boundary("ab\xe0\x80", 4), 4); /* overlong */
  assert_int_equal(sk_utf8_boundary("ab\xed\xa0", 4), 4); /* surrogate */
  assert_int_equal(sk_utf8_boundary("ab\xf0\x80\x80", 5), 5);
  assert_int_equal(sk_utf8_boundary("ab\xf4\x90", 4), 4); /* > U+10FFFF */
  /* The second-byte limits still let valid prefixes through. */
  assert_int_equal(sk_utf8_boundary("ab\xe0\xa0", 4), 2);
  assert_int_equal(sk_utf8_boundary("ab\xed\x9f", 4), 2);
  assert_int_equal(sk_utf8_boundary("ab\xf4\x8f\xbf", 5), 2);
}

/* Chinese and emoji are copied unchanged; TAB and LF are kept. */
static void test_sanitize_keeps_text(void **state) {
  static const char text[] = "你好, world 😀\tend\n";
  (void)state;
  sanitized_is(text, sizeof text - 1, text);
  sanitized_is("", 0, "");
}

/* Controls become Control Pictures; C1 and bad bytes become U+FFFD. */
static void test_sanitize_controls(void **state) {
  (void)state;
  sanitized_is("\x1b[2J", 4, "\xe2\x90\x9b[2J"); /* ESC -> U+241B */
  sanitized_is("\a", 1, "\xe2\x90\x87");         /* BEL -> U+2407 */
  sanitized_is("\r", 1, "\xe2\x90\x8d");         /* CR -> U+240D */
  sanitized_is("a\0z", 3, "a\xe2\x90\x80z");     /* NUL -> U+2400 */
  sanitized_is("\x7f", 1, "\xe2\x90\xa1");       /* DEL -> U+2421 */
  sanitized_is("\xc2\x9b", 2, "\xef\xbf\xbd");   /* C1 CSI */
  sanitized_is("a\xffz", 3, "a\xef\xbf\xbdz");   /* bad byte */
  /* Each byte of a broken sequence is replaced on its own. */
  sanitized_is("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  sanitized_is("\xe4\xbd", 2, "\xef\xbf\xbd\xef\xbf\xbd");
}

/* The worst case fits SK_UTF8_SANITIZED_MAX and the output is UTF-8. */
/* Bidi overrides and isolates, separators, zero-width characters and
 * the BOM become U+FFFD; their neighbours stay. */
static void test_sanitize_invisible_format(void **state) {
  (void)state;
  static const char *const in[] = {
      "\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad",
      "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8",
      "\xe2\x81\xa9", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\x8b",
      "\xe2\x80\x8c", "\xe2\x80\x8d", "\xef\xbb\xbf"};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    char text[16];
    snprintf(text, sizeof text, "a%sz", in[i]);
    sanitized_is(text, strlen(text), "a\xef\xbf\xbdz");
  }
  /* The neighbours of the ranges pass: U+2029 + 1, U+2065, U+200E. */
  sanitized_is("\xe2\x80\xaf", 3, "\xe2\x80\xaf");
  sanitized_is("\xe2\x81\xa5", 3, "\xe2\x81\xa5");
  sanitized_is("\xe2\x80\x8e", 3, "\xe2\x80\x8e");
}

static void test_sanitize_worst_case(void **state) {
  char in[64], out[SK_UTF8_SANITIZED_MAX(64)];
  (void)state;
  for (size_t i = 0; i < sizeof in; i++)
    in[i] = (char)(i % 2 ? 0xff : 0x1b);
  size_t n = sk_utf8_sanitize(in, sizeof in, out, sizeof out);
  assert_int_equal(n, sizeof out - 1);
  assert_int_equal(sk_utf8_count(out, n), 64);
}

/* Output stops before a character that would not fit, for every cap. */
static void test_sanitize_small_caps(void **state) {
  static const char text[] = "a你\x1b😀";
  static const size_t fits[] = {0, 0, 1, 1, 1, 4, 4, 4, 7, 7, 7, 7, 11};
  char out[32];
  (void)state;
  for (size_t cap = 1; cap < sizeof fits / sizeof *fits; cap++) {
    memset(out, 'X', sizeof out);
    size_t n = sk_utf8_sanitize(text, sizeof text - 1, out, cap);
    assert_int_equal(n, fits[cap]);
    assert_int_equal(out[n], '\0');
    assert_int_equal(out[cap], 'X'); /* nothing written past cap */
    assert_true(sk_utf8_count(out, n) >= 0);
  }
  memset(out, 'X', sizeof out);
  assert_int_equal(sk_utf8_sanitize(text, sizeof text - 1, out, 0), 0);
  assert_int_equal(out[0], 'X');
}

/* sk_utf8_count counts characters, and -1 for anything invalid. */
static void test_count(void **state) {
  (void)state;
  assert_int_equal(sk_utf8_count("", 0), 0);
  assert_int_equal(sk_utf8_count("abc", 3), 3);
  assert_int_equal(sk_utf8_count("你好😀", 10), 3);
  assert_int_equal(sk_utf8_count("a\0b", 3), 3);
  assert_int_equal(sk_utf8_count("你好", 5), -1);
  assert_int_equal(sk_utf8_count("a\xff", 2), -1);
  assert_int_equal(sk_utf8_count("\xc0\x80", 2), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seq_len_valid),
      cmocka_unit_test(test_seq_len_invalid),
      cmocka_unit_test(test_boundary_holds_back_cut_chars),
      cmocka_unit_test(test_boundary_keeps_invalid),
      cmocka_unit_test(test_sanitize_keeps_text),
      cmocka_unit_test(test_sanitize_controls),
      cmocka_unit_test(test_sanitize_invisible_format),
      cmocka_unit_test(test_sanitize_worst_case),
      cmocka_unit_test(test_sanitize_small_caps),
      cmocka_unit_test(test_count),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
