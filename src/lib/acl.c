/* Access lists: which peers a listener accepts. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sockit/acl.h"
#include "sockit/error.h"

static int rule_push(char *err, sk_acl_t *acl, bool allow, int family,
                     const void *addr, int prefix) {
  static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
  int *n = allow ? &acl->n_allow : &acl->n_deny;
  sk_acl_rule_t *r = (allow ? acl->allow : acl->deny) + *n;
  if (*n >= SK_ACL_MAX)
    return sk__fail(err, SK_EADDR, "more than %d --%s rules", SK_ACL_MAX,
                    allow ? "allow" : "deny");
  /* Mapped peers are checked as IPv4 (see sk_acl_permits), so rules in
   * the ::ffff:a.b.c.d form must be IPv4 too, or they never match. */
  if (family == AF_INET6 && prefix >= 96 && !memcmp(addr, mapped, 12)) {
    addr = (const uint8_t *)addr + 12;
    family = AF_INET;
    prefix -= 96;
  }
  r->family = family;
  memset(r->addr, 0, sizeof r->addr);
  memcpy(r->addr, addr, family == AF_INET ? 4 : 16);
  r->prefix = prefix;
  (*n)++;
  return 0;
}

/* Adds every address a name resolves to, each as a full-length rule. */
static int rule_push_name(char *err, sk_acl_t *acl, const char *name,
                          bool allow) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *list, *ai;
  char q[SK__QUOTE_LEN];
  int rc = getaddrinfo(name, NULL, &hints, &list);
  if (rc != 0)
    return sk__fail(err, SK_ERESOLVE, "host \"%s\" could not be resolved: %s",
                    sk__quote(q, name, strlen(name)), gai_strerror(rc));
  for (ai = list; ai && rc == 0; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET)
      rc = rule_push(err, acl, allow, AF_INET,
                     &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 32);
    else if (ai->ai_family == AF_INET6)
      rc = rule_push(err, acl, allow, AF_INET6,
                     &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 128);
  }
  freeaddrinfo(list);
  return rc;
}

int sk_acl_add(char *err, sk_acl_t *acl, const char *text, bool allow) {
  char host[64], q[SK__QUOTE_LEN], *end;
  uint8_t addr[16];
  const char *slash = strchr(text, '/');
  size_t len = slash ? (size_t)(slash - text) : strlen(text);
  if (len == 0 || len >= sizeof host)
    return sk__fail(err, SK_EADDR, "address \"%s\" is not ADDR[/PREFIX]",
                    sk__quote(q, text, strlen(text)));
  memcpy(host, text, len);
  host[len] = '\0';
  int family = inet_pton(AF_INET, host, addr) == 1    ? AF_INET
               : inet_pton(AF_INET6, host, addr) == 1 ? AF_INET6
                                                      : 0;
  if (!family && !slash)
    return rule_push_name(err, acl, host, allow);
  int max = family == AF_INET ? 32 : 128;
  long prefix = max;
  if (slash) {
    prefix = strtol(slash + 1, &end, 10);
    if (!family || slash[1] < '0' || slash[1] > '9' || *end || prefix > max)
      return sk__fail(err, SK_EADDR,
                      "\"%s\" is not ADDR/PREFIX with a numeric address "
                      "and a prefix in 0..%d",
                      sk__quote(q, text, strlen(text)), max);
  }
  return rule_push(err, acl, allow, family, addr, (int)prefix);
}

static bool rule_matches(const sk_acl_rule_t *r, int family,
                         const uint8_t *addr) {
  int full = r->prefix / 8, rest = r->prefix % 8;
  if (r->family != family || memcmp(r->addr, addr, (size_t)full) != 0)
    return false;
  if (rest == 0)
    return true;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (r->addr[full] & mask) == (addr[full] & mask);
}

static bool any_matches(const sk_acl_rule_t *rules, int n, int family,
                        const uint8_t *addr) {
  for (int i = 0; i < n; i++)
    if (rule_matches(&rules[i], family, addr))
      return true;
  return false;
}

bool sk_acl_permits(const sk_acl_t *acl, const struct sockaddr *peer) {
  const uint8_t *addr;
  int family = peer->sa_family;
  if (!acl || (acl->n_allow == 0 && acl->n_deny == 0))
    return true;
  if (family == AF_INET) {
    addr = (const uint8_t *)&((const struct sockaddr_in *)peer)->sin_addr;
  } else if (family == AF_INET6) {
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)peer)->sin6_addr;
    addr = a6->s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      family = AF_INET;
      addr += 12;
    }
  } else {
    return acl->n_allow == 0; /* Unix peers have no address to match */
  }
  if (any_matches(acl->deny, acl->n_deny, family, addr))
    return false;
  return acl->n_allow == 0 || any_matches(acl->allow, acl->n_allow, family, addr);
}
