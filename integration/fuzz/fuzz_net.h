/*
 * fuzz_net.h - loopback plumbing for the targets that fuzz our HTTP server
 * (fuzz_http.c) and our HTTP client's response handling (fuzz_alertmanager.c)
 * with real libevent on real sockets: raw bytes in, the loop run until the
 * peer closes or a bound passes.
 * Threads: the caller's (which runs the event base). Errors: -1 with errno;
 * the target then skips the input.
 */
#ifndef AFD_FUZZ_NET_H
#define AFD_FUZZ_NET_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

/* A listening loopback TCP socket (non-blocking); port in *port. */
int afd_fuzz_listen(int *port);

/* A blocking TCP connection to 127.0.0.1:port, or -1. */
int afd_fuzz_connect(int port);

/* Writes all of data to fd while running base (the peer may be the loop). */
int afd_fuzz_write_all(struct event_base *base, int fd, const uint8_t *data,
                       size_t size);

/* Runs base until fd reads EOF (or an error) or max_ms pass; what is read is
 * thrown away. */
void afd_fuzz_drain(struct event_base *base, int fd, int max_ms);

/* Runs base once without blocking, then waits up to 1 ms. */
void afd_fuzz_spin(struct event_base *base);

#endif
