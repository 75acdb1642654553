/* sockit: --allow / --deny access lists for listeners. */
#ifndef SOCKIT_ACL_H
#define SOCKIT_ACL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockit/error.h"

#define SK_ACL_MAX 64

typedef struct sk_acl_rule {
  int family;       /* AF_INET or AF_INET6 */
  uint8_t addr[16]; /* network byte order */
  int prefix;       /* leading bits that must match */
} sk_acl_rule_t;

typedef struct sk_acl {
  int n_allow, n_deny;
  sk_acl_rule_t allow[SK_ACL_MAX], deny[SK_ACL_MAX];
} sk_acl_t;

/*
 * Adds "ADDR", "ADDR/PREFIX" or a host name (all its addresses) to the
 * allow or deny list. Returns 0, or SK_EADDR / SK_ERESOLVE with a
 * message naming the input.
 */
SK_API int sk_acl_add(char *err, sk_acl_t *acl, const char *text, bool allow);

/*
 * True when a peer may connect: it matches no deny rule and, when any
 * allow rule exists, at least one. IPv4-mapped IPv6 peers (from a
 * dual-stack listener) are checked as the IPv4 address they carry.
 */
SK_API bool sk_acl_permits(const sk_acl_t *acl, const struct sockaddr *peer);

#endif
