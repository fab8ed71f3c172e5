/* demo_proc.c - child processes of `afd-sizer demo` (demo_proc.h). */
#include "plugin/demo/demo_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "estimator/base/error.h"

void afd_demo_child_init(struct afd_demo_child *c, const char *label,
                         bool keep_output)
{
    memset(c, 0, sizeof(*c));
    c->label = label;
    c->out_fd = -1;
    c->keep_output = keep_output;
}

/* In the child after fork: only async-signal-safe calls until exec. */
static void child_exec(char *const argv[], int out_w, int log_fd, pid_t parent)
{
    static const char msg[] = "afd-sizer demo: exec failed\n";
    int devnull = open("/dev/null", O_RDONLY);
    struct sigaction dfl;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGPIPE, &dfl, NULL);
    setpgid(0, 0);
    /* The demo may die without cleaning up (SIGKILL): take us along. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
    if (devnull >= 0)
        dup2(devnull, STDIN_FILENO);
    dup2(out_w, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(argv[0], argv);
    if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to do */
    }
    _exit(127);
}

int afd_demo_child_spawn(struct afd_demo_child *c, char *const argv[],
                         const char *log_path, char *err)
{
    pid_t parent = getpid(), pid;
    int fds[2], log_fd;

    snprintf(c->log_path, sizeof(c->log_path), "%s", log_path);
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0)
        return afd_err(err, AFD_EIO, "cannot open log '%s': %s", log_path,
                       strerror(errno));
    if (pipe(fds) < 0) {
        close(log_fd);
        return afd_err(err, AFD_EIO, "pipe for %s: %s", c->label,
                       strerror(errno));
    }
    /* Close-on-exec: a later child must not hold this pipe open. */
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fflush(NULL); /* no buffered output duplicated into the child */
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        close(log_fd);
        return afd_err(err, AFD_EIO, "fork for %s: %s", c->label,
                       strerror(errno));
    }
    if (pid == 0)
        child_exec(argv, fds[1], log_fd, parent);
    /* Also from the parent: no window where a signal to the group misses. */
    setpgid(pid, pid);
    close(fds[1]);
    close(log_fd);
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    c->pid = pid;
    c->out_fd = fds[0];
    c->exited = false;
    return AFD_OK;
}

static int grow(struct afd_demo_child *c, size_t need, char *err)
{
    size_t cap = c->out_cap ? c->out_cap : 65536;
    char *p;

    if (need > AFD_DEMO_MAX_OUTPUT)
        return afd_err(err, AFD_ENOMEM, "%s printed more than %u bytes",
                       c->label, AFD_DEMO_MAX_OUTPUT);
    while (cap < need)
        cap *= 2;
    if (cap == c->out_cap)
        return AFD_OK;
    p = realloc(c->out, cap);
    if (!p)
        return afd_err(err, AFD_ENOMEM, "out of memory reading %s", c->label);
    c->out = p;
    c->out_cap = cap;
    return AFD_OK;
}

int afd_demo_child_read(struct afd_demo_child *c, char *err)
{
    char tmp[65536];
    ssize_t n;
    int rc;

    while (c->out_fd >= 0) {
        n = read(c->out_fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return AFD_OK;
        if (n <= 0) { /* EOF or a read error: nothing more will come */
            close(c->out_fd);
            c->out_fd = -1;
            break;
        }
        if (!c->keep_output)
            continue;
        if ((rc = grow(c, c->out_len + (size_t)n + 1, err)))
            return rc;
        memcpy(c->out + c->out_len, tmp, (size_t)n);
        c->out_len += (size_t)n;
        c->out[c->out_len] = '\0';
    }
    return AFD_OK;
}

bool afd_demo_child_reap(struct afd_demo_child *c)
{
    pid_t r;

    if (c->exited || c->pid <= 0)
        return c->exited;
    do
        r = waitpid(c->pid, &c->status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == c->pid || (r < 0 && errno == ECHILD)) {
        c->exited = true;
        c->pid = 0;
    }
    return c->exited;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Polls for exit every 10 ms up to ms; true when reaped. */
static bool wait_exit(struct afd_demo_child *c, int ms)
{
    int waited;

    for (waited = 0; waited <= ms; waited += 10) {
        if (afd_demo_child_reap(c))
            return true;
        sleep_ms(10);
    }
    return afd_demo_child_reap(c);
}

/* To the child's process group (its own, see spawn), else to the child. */
static void signal_child(pid_t pid, int sig)
{
    if (kill(-pid, sig) < 0)
        kill(pid, sig);
}

bool afd_demo_child_stop(struct afd_demo_child *c, int grace_ms)
{
    pid_t pid = c->pid;

    if (c->exited || pid <= 0)
        return true;
    signal_child(pid, SIGTERM);
    if (wait_exit(c, grace_ms))
        return true;
    signal_child(pid, SIGKILL);
    wait_exit(c, 5000);
    return false;
}

int afd_demo_child_exit_code(const struct afd_demo_child *c)
{
    if (WIFEXITED(c->status))
        return WEXITSTATUS(c->status);
    if (WIFSIGNALED(c->status))
        return 128 + WTERMSIG(c->status);
    return -1;
}

void afd_demo_child_release(struct afd_demo_child *c)
{
    if (!c)
        return;
    if (c->out_fd >= 0)
        close(c->out_fd);
    c->out_fd = -1;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_cap = 0;
}

void afd_demo_file_tail(const char *path, char *buf, size_t len)
{
    FILE *f;
    long size, start;
    size_t n;
    char *nl;

    buf[0] = '\0';
    if (len < 2 || !(f = fopen(path, "rb")))
        return;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0) {
        start = size > (long)(len - 1) ? size - (long)(len - 1) : 0;
        if (fseek(f, start, SEEK_SET) == 0) {
            n = fread(buf, 1, len - 1, f);
            buf[n] = '\0';
            /* start on a whole line when cut */
            if (start > 0 && (nl = strchr(buf, '\n')))
                memmove(buf, nl + 1, strlen(nl + 1) + 1);
        }
    }
    fclose(f);
}

int afd_demo_remove_dir(const char *dir, char *err)
{
    char path[AFD_DEMO_LOG_LEN + 256];
    struct dirent *e;
    DIR *d = opendir(dir);
    int rc = AFD_OK;

    if (!d)
        return errno == ENOENT ? AFD_OK
                               : afd_err(err, AFD_EIO, "cannot open '%s': %s",
                                         dir, strerror(errno));
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (unlink(path) < 0 && rc == AFD_OK)
            rc = afd_err(err, AFD_EIO, "cannot remove '%s': %s", path,
                         strerror(errno));
    }
    closedir(d);
    if (rmdir(dir) < 0 && rc == AFD_OK)
        rc = afd_err(err, AFD_EIO, "cannot remove '%s': %s", dir,
                     strerror(errno));
    return rc;
}
