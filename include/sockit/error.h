/* sockit: error codes shared by every libsockit call. */
#ifndef SOCKIT_ERROR_H
#define SOCKIT_ERROR_H

/* Size of the optional message buffer every call takes first. */
#define SK_ERR_LEN 256

/*
 * Calls return 0 (or a descriptor, or a byte count) on success and a
 * negative code on failure: -errno for system errors, or one of these.
 */
enum sk_error {
  SK_EPORT = -30001,  /* port is not a decimal integer in range */
  SK_EADDR = -30002,  /* address text is malformed */
  SK_ERESOLVE = -30003, /* getaddrinfo could not resolve the host */
  SK_ETOOLONG = -30004, /* line or datagram over its size limit */
  SK_EPROXY = -30005,   /* the proxy refused, or spoke something else */
};

/* A short constant description of code; never NULL. */
const char *sk_strerror(int code);

#endif
