/* sockit: error codes shared by every libsockit call. */
#ifndef SOCKIT_ERROR_H
#define SOCKIT_ERROR_H

/* Marks the public API: libsockit is built with -fvisibility=hidden, so
 * only what is declared with SK_API is exported from the shared library. */
#if defined(__GNUC__)
#define SK_API __attribute__((visibility("default")))
#else
#define SK_API
#endif

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
SK_API const char *sk_strerror(int code);

#endif
