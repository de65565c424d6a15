/*
 * tcp/netutil.c - listening sockets (Tornado's netutil.bind_sockets
 * and bind_unix_socket).
 *
 * Every socket made here is close-on-exec (a child process must not keep a
 * listening port open) and non-blocking (accept is driven by the loop).
 * This file must never leave an fd behind on an error path.
 */
#define _GNU_SOURCE
#include "eddy/tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int prepare(int fd)
{
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        return -errno;
    return 0;
}

int eddy_socket_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

static void set_port(struct sockaddr *sa, int port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

static int listen_one(const struct addrinfo *ai, int port, int backlog,
                      unsigned flags, int *out)
{
    int fd, one = 1, err;

    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    err = prepare(fd);
    if (err == 0 &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        err = -errno;
#ifdef SO_REUSEPORT
    if (err == 0 && (flags & EDDY_BIND_REUSEPORT) &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        err = -errno;
#else
    if (err == 0 && (flags & EDDY_BIND_REUSEPORT))
        err = -ENOTSUP;
#endif
    /* One socket per family: v4 and v6 bind the same port side by side. */
    if (err == 0 && ai->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
        err = -errno;
    if (err == 0) {
        set_port(ai->ai_addr, port);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
            listen(fd, backlog) != 0)
            err = -errno;
    }
    if (err != 0) {
        close(fd);
        return err;
    }
    *out = fd;
    return 0;
}

int eddy_bind_sockets(int port, const char *address, int family, int backlog,
                      unsigned flags, int *fds, size_t max, size_t *n)
{
    struct addrinfo hints = {0}, *res, *ai;
    char service[8];
    int err = 0, skipped = 0, rc;

    *n = 0;
    if (port < 0 || port > 65535 || max == 0)
        return -EINVAL;
    if (address != NULL && address[0] == '\0')
        address = NULL;
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof service, "%d", port);
    rc = getaddrinfo(address, service, &hints, &res);
    if (rc != 0)
        return rc == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
    for (ai = res; ai != NULL && *n < max; ai = ai->ai_next) {
        int fd = -1;

        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        err = listen_one(ai, port, backlog > 0 ? backlog : 1024, flags, &fd);
        if (err == -EAFNOSUPPORT) {
            /* No IPv6 on this host: the other families are enough,
             * wherever getaddrinfo put them in its list. */
            skipped = err;
            err = 0;
            continue;
        }
        if (err != 0)
            break;
        /* Port 0: the kernel's choice holds for the other families too. */
        if (port == 0)
            port = eddy_socket_port(fd);
        fds[(*n)++] = fd;
    }
    freeaddrinfo(res);
    if (err != 0 || *n == 0) {
        while (*n > 0)
            close(fds[--*n]);
        return err != 0 ? err : skipped != 0 ? skipped : -EADDRNOTAVAIL;
    }
    return 0;
}

int eddy_bind_unix_socket(const char *path, int mode, int backlog, int *out)
{
    struct sockaddr_un sun = {0};
    struct stat st;
    int fd, err;

    if (path == NULL || strlen(path) >= sizeof sun.sun_path)
        return -EINVAL;
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);
    /* Replace a stale socket from an earlier run, never a regular file. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return -EEXIST;
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    err = prepare(fd);
    if (err == 0 && bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
        err = -errno;
    if (err == 0 && mode != 0 && chmod(path, (mode_t)mode) != 0)
        err = -errno;
    if (err == 0 && listen(fd, backlog > 0 ? backlog : 1024) != 0)
        err = -errno;
    if (err != 0) {
        close(fd);
        return err;
    }
    *out = fd;
    return 0;
}

int eddy_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (int)n : 1;
}
