/*
 * sockit (internal): chat names people can trust, decided with ICU.
 *
 * A name is normalised to NFKC after variation selectors are stripped,
 * then refused when it holds a control, format, private-use, unassigned
 * or invisible (default-ignorable, blank) character, a space of any
 * kind, '<' or '>', starts with a combining mark or stacks more than
 * SK__NICK_MARKS of them, or is not 1 to SK__NICK_CHARS characters.
 * Two names are the same when their keys match: the UTS #39 confusable
 * skeleton (ICU's uspoof) of the NFKC case-folded name, or the skeleton
 * of the name itself (which catches "aIice" against "alice", where
 * case folding first would turn the I into an i).
 */
#ifndef SOCKIT_NICK_H
#define SOCKIT_NICK_H

#include <stdbool.h>
#include <stddef.h>

#define SK__NICK_CHARS 32
#define SK__NICK_BYTES (SK__NICK_CHARS * 4)
#define SK__NICK_MARKS 3 /* combining marks in a row: Zalgo stacks no */
#define SK__NICK_KEY_BYTES (SK__NICK_BYTES * 4)
#define SK__NICK_KEYS 2

typedef struct sk__nicks sk__nicks_t;

/* The ICU objects, opened once per room. NULL when ICU fails. */
sk__nicks_t *sk__nicks_open(void);
void sk__nicks_close(sk__nicks_t *n);

/*
 * Writes the normalised form of name (len bytes) to out, NUL-terminated
 * (out holds SK__NICK_BYTES + 1), and its length to *out_len. Returns 0,
 * or -EINVAL with a static reason in *why ("has an invisible ...").
 */
int sk__nick_normalize(const sk__nicks_t *n, const char *name, size_t len,
                       char *out, size_t *out_len, const char **why);

/*
 * Writes the comparison keys of a normalised name, each NUL-terminated
 * in SK__NICK_KEY_BYTES. Returns 0, or -EINVAL when a key does not fit.
 */
int sk__nick_keys(const sk__nicks_t *n, const char *name, size_t len,
                  char keys[SK__NICK_KEYS][SK__NICK_KEY_BYTES]);

/* True when a and b (raw user text) normalise to names with a common
 * key: the same name to a reader. False when either is refused. */
bool sk__nick_same(const sk__nicks_t *n, const char *a, const char *b);

#endif
