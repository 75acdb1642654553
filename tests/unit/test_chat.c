/*
 * Unit tests for the chat's rules (nick.c, chat_room.c): which names
 * may be taken, which two names are one, and which room names exist.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "../../src/engine/chat_int.h"
#include "../../src/engine/nick.h"

static sk__nicks_t *nk;

static int setup(void **state) {
  (void)state;
  nk = sk__nicks_open();
  return nk ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  sk__nicks_close(nk);
  return 0;
}

/* 0 when s may be a name; its normal form in norm. */
static int nick_norm(const char *s, char norm[SK__NICK_BYTES + 1]) {
  size_t n;
  const char *why;
  return sk__nick_normalize(nk, s, strlen(s), norm, &n, &why);
}

static int nick(const char *s) {
  char norm[SK__NICK_BYTES + 1];
  return nick_norm(s, norm);
}

/* Any script, 1 to 32 characters, nothing invisible or controlling. */
static void test_nick_refused(void **state) {
  (void)state;
  assert_int_equal(nick("bob"), 0);
  assert_int_equal(nick("Bob_2"), 0);
  assert_int_equal(nick("\xe5\xb0\x8f\xe6\x98\x8e"), 0);         /* 小明 */
  assert_int_equal(nick("\xf0\x9f\x98\x80"), 0);                 /* 😀 */
  assert_int_equal(nick("Jos\xc3\xa9"), 0);                      /* José */
  assert_int_equal(nick("abcdefghijklmnopqrstuvwxyz012345"), 0); /* 32 */
  assert_int_equal(nick("abcdefghijklmnopqrstuvwxyz0123456"), -EINVAL);
  assert_int_equal(nick(""), -EINVAL);
  assert_int_equal(nick("x y"), -EINVAL);
  assert_int_equal(nick("x\ty"), -EINVAL);
  assert_int_equal(nick("<bob>"), -EINVAL);
  assert_int_equal(nick("bob\x1b[31m"), -EINVAL);
  assert_int_equal(nick("bob\x7f"), -EINVAL);
  assert_int_equal(nick("bob\xc2\x9b"), -EINVAL); /* C1 CSI */
  assert_int_equal(nick("\xc2\xa0"), -EINVAL);    /* NBSP */
  assert_int_equal(nick("bo\xe2\x80\x8b"
                        "b"),
                   -EINVAL); /* zero width */
  assert_int_equal(nick("\xe2\x80\xae"
                        "bob"),
                   -EINVAL);                              /* RTL override */
  assert_int_equal(nick("bob\xe2\x81\xa6"), -EINVAL);     /* LR isolate */
  assert_int_equal(nick("\xe3\x80\x80"), -EINVAL);        /* ideographic sp */
  assert_int_equal(nick("bob\xff"), -EINVAL);             /* invalid UTF-8 */
  assert_int_equal(nick("\xc0\xaf"), -EINVAL);            /* overlong '/' */
  assert_int_equal(nick("alice\xe2\xa0\x80"), -EINVAL);   /* braille blank */
  assert_int_equal(nick("\xe3\x85\xa4"), -EINVAL);        /* Hangul filler */
  assert_int_equal(nick("bob\xee\x80\x80"), -EINVAL);     /* private use */
  assert_int_equal(nick("bob\xcd\xb8"), -EINVAL);         /* unassigned */
  assert_int_equal(nick("bob\xf3\xa0\x80\x81"), -EINVAL); /* tag char */
  assert_int_equal(nick("\xcc\x81"), -EINVAL);            /* combining-only */
  assert_int_equal(nick("\xcc\x81\xcc\x81"
                        "a"),
                   -EINVAL);
  /* Zalgo: a letter under four stacked marks; three are allowed. */
  assert_int_equal(nick("x\xcc\x81\xcc\x82\xcc\x83\xcc\x84"), -EINVAL);
  assert_int_equal(nick("x\xcc\x81\xcc\x82\xcc\x83"), 0);
  /* 32 characters of 3 bytes each fit; 33 do not. */
  char wide[33 * 3 + 1] = "";
  for (int i = 0; i < 32; i++)
    strcat(wide, "\xe4\xbd\xa0");
  assert_int_equal(nick(wide), 0);
  strcat(wide, "\xe4\xbd\xa0");
  assert_int_equal(nick(wide), -EINVAL);
}

/* NFKC: José in NFD becomes NFC; variation selectors are dropped;
 * fullwidth letters become ASCII. */
static void test_nick_normal_form(void **state) {
  char norm[SK__NICK_BYTES + 1];
  (void)state;
  assert_int_equal(nick_norm("Jose\xcc\x81", norm), 0);
  assert_string_equal(norm, "Jos\xc3\xa9");
  assert_int_equal(nick_norm("alice\xef\xb8\x8f", norm), 0);
  assert_string_equal(norm, "alice");
  assert_int_equal(nick_norm("\xef\xbd\x81\xef\xbd\x82", norm), 0); /* ａｂ */
  assert_string_equal(norm, "ab");
}

/* The issue's examples: one name, not four; look-alikes; any case. */
static void test_nick_same(void **state) {
  (void)state;
  assert_true(sk__nick_same(nk, "Jos\xc3\xa9", "Jose\xcc\x81"));
  assert_true(sk__nick_same(nk, "alice", "alice\xef\xb8\x8f"));
  assert_true(sk__nick_same(nk, "alice", "\xd0\xb0lice")); /* Cyrillic а */
  assert_true(sk__nick_same(nk, "alice", "aIice"));        /* capital I */
  assert_true(sk__nick_same(nk, "alice", "ALICE"));
  assert_true(sk__nick_same(nk, "server", "Server"));
  assert_true(sk__nick_same(nk, "server", "SERVER"));
  assert_true(sk__nick_same(nk, "server",
                            "\xd0\x85"
                            "erver")); /* Ѕ */
  assert_true(sk__nick_same(nk, "server",
                            "\xef\xbd\x93"
                            "erver")); /* ｓ */
  assert_false(sk__nick_same(nk, "alice", "bob"));
  assert_false(sk__nick_same(nk, "alice", "alicia"));
  /* A refused name is the same as nothing. */
  assert_false(sk__nick_same(nk, "alice", "alice\xe2\xa0\x80"));
}

/* Rooms: '#' then 1 to 32 of A-Z a-z 0-9 _ -. */
static void test_room_names(void **state) {
  (void)state;
  assert_int_equal(sk__chat_room_check("#lobby", 6), 0);
  assert_int_equal(sk__chat_room_check("#a", 2), 0);
  assert_int_equal(sk__chat_room_check("#Dev_ops-2", 10), 0);
  assert_int_equal(sk__chat_room_check("#", 1), -EINVAL);
  assert_int_equal(sk__chat_room_check("lobby", 5), -EINVAL);
  assert_int_equal(sk__chat_room_check("#a b", 4), -EINVAL);
  assert_int_equal(sk__chat_room_check("#caf\xc3\xa9", 6), -EINVAL);
  assert_int_equal(sk__chat_room_check("#\x1b[2J", 5), -EINVAL);
  char longest[35] = "#";
  memset(longest + 1, 'x', 32);
  assert_int_equal(sk__chat_room_check(longest, 33), 0);
  longest[33] = 'x';
  assert_int_equal(sk__chat_room_check(longest, 34), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nick_refused),
      cmocka_unit_test(test_nick_normal_form),
      cmocka_unit_test(test_nick_same),
      cmocka_unit_test(test_room_names),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
