/* fuzz_net.c - see fuzz_net.h. */
#include "integration/fuzz/fuzz_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int afd_fuzz_listen(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    set_nonblock(fd);
    *port = ntohs(a.sin_port);
    return fd;
}

int afd_fuzz_connect(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    /* Loopback connect completes from the kernel's backlog, no loop needed. */
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    set_nonblock(fd);
    return fd;
}

void afd_fuzz_spin(struct event_base *base)
{
    event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
    poll(NULL, 0, 1);
}

int afd_fuzz_write_all(struct event_base *base, int fd, const uint8_t *data,
                       size_t size)
{
    int64_t end = mono_ms() + 2000;

    while (size) {
        ssize_t n = send(fd, data, size, MSG_NOSIGNAL);

        if (n > 0) {
            data += n;
            size -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return -1; /* the server closed on us: fine for a fuzz input */
        } else if (mono_ms() > end) {
            return -1;
        } else {
            afd_fuzz_spin(base);
        }
    }
    return 0;
}

void afd_fuzz_drain(struct event_base *base, int fd, int max_ms)
{
    int64_t end = mono_ms() + max_ms;
    char buf[4096];

    while (mono_ms() < end) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);

        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return;
        if (n < 0)
            afd_fuzz_spin(base);
    }
}
