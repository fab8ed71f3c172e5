/*
 * loadgen_daemon.c - afd-loadgen --spawn-daemon (see integration/loadgen.h):
 * starts `afd-sizer serve` on free loopback ports with a config of its own,
 * reads its address from stdout, keeps its stdout drained, and stops it
 * with SIGTERM. The child gets SIGTERM if the generator dies
 * (PR_SET_PDEATHSIG) and is reaped by afd_lg_daemon_stop, so no process
 * outlives a run.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "integration/loadgen.h"

#define LG_SPAWN_WAIT_S 60 /* daemon start-up (ASan builds are slow) */
#define LG_STOP_WAIT_S  30 /* daemon drain after SIGTERM */

/* Reads stdout lines of the daemon until "ready"; fills the gRPC address. */
static int daemon_wait_ready(struct afd_lg_daemon *dm, char *err)
{
    static const char grpc_tag[] = "afd-sizer: grpc listening on ";
    char buf[4096], *line, *nl;
    size_t len = 0;
    double t_end = afd_lg_now_s() + LG_SPAWN_WAIT_S;

    for (;;) {
        struct pollfd pfd = {dm->out_fd, POLLIN, 0};
        ssize_t n;
        int left = (int)((t_end - afd_lg_now_s()) * 1000);
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            return afd_err(err, AFD_EIO, "daemon not ready after %d s",
                           LG_SPAWN_WAIT_S);
        n = read(dm->out_fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            return afd_err(err, AFD_EIO,
                           "daemon closed its stdout before 'ready' (see its "
                           "stderr above)");
        len += (size_t)n;
        buf[len] = '\0';
        for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
            *nl = '\0';
            if (!strncmp(line, grpc_tag, sizeof(grpc_tag) - 1))
                snprintf(dm->grpc_addr, sizeof(dm->grpc_addr), "%s",
                         line + sizeof(grpc_tag) - 1);
            else if (!strcmp(line, "afd-sizer: ready"))
                return dm->grpc_addr[0]
                           ? AFD_OK
                           : afd_err(err, AFD_EIO,
                                     "daemon ready without a grpc address");
        }
        len = strlen(line);
        memmove(buf, line, len + 1);
        if (len == sizeof(buf) - 1)
            len = 0; /* an absurd line: drop it */
    }
}

/*
 * Copies the daemon's later stdout to our stderr until it exits, so that a
 * chatty daemon never blocks on a full pipe and our figures stay clean.
 */
static void *drain_main(void *arg)
{
    struct afd_lg_daemon *dm = arg;
    char buf[4096];
    ssize_t n;

    while ((n = read(dm->out_fd, buf, sizeof(buf))) > 0 ||
           (n < 0 && errno == EINTR))
        if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0)
            break;
    return NULL;
}

/*
 * The spawned daemon's config: the wall-clock controller evaluating every
 * LG_EVAL_MS with no dwell and no cooldown, so that each workload shift of
 * the decision probe gives one command at the next tick; a short workload
 * half-life (in requests) for the probe's deployment so one shift moves
 * its estimate. The population's deployments get commands too (nobody
 * acks them: one each stays in flight), which costs the loop nothing.
 */
static int write_config(struct afd_lg_daemon *dm, char *err)
{
    FILE *f;

    snprintf(dm->dir, sizeof(dm->dir), "/tmp/afd-loadgen-XXXXXX");
    if (!mkdtemp(dm->dir)) {
        dm->dir[0] = '\0';
        return afd_err(err, AFD_EIO, "mkdtemp: %s", strerror(errno));
    }
    snprintf(dm->conf, sizeof(dm->conf), "%s/config.json", dm->dir);
    f = fopen(dm->conf, "w");
    if (!f)
        return afd_err(err, AFD_EIO, "cannot write %s: %s", dm->conf,
                       strerror(errno));
    fprintf(f,
            "{\"controller\": {\"clock\": \"wall\", \"eval_interval_ms\": "
            "%d, \"dwell_s\": 0, \"cooldown_s\": 0, \"max_step\": 64, "
            "\"max_attention_instances\": 1000000},\n"
            " \"deployments\": [{\"name\": \"%s\", "
            "\"workload_half_life\": 16}]}\n",
            LG_EVAL_MS, LG_SHIFT_DEPLOYMENT);
    if (fclose(f))
        return afd_err(err, AFD_EIO, "cannot write %s", dm->conf);
    return AFD_OK;
}

/* Removes the config written by write_config. */
static void remove_config(struct afd_lg_daemon *dm)
{
    if (dm->conf[0])
        unlink(dm->conf);
    if (dm->dir[0])
        rmdir(dm->dir);
    dm->conf[0] = dm->dir[0] = '\0';
}

/*
 * Starts `bin serve` on free loopback ports. The child gets SIGTERM if we
 * die first (PR_SET_PDEATHSIG), so no daemon outlives the generator. Call
 * before grpc_init: forking a process with gRPC threads is unsafe.
 */
int afd_lg_daemon_spawn(struct afd_lg_daemon *dm, const char *bin,
                        const char *token_file, char *err)
{
    char *args[] = {(char *)bin,
                    "serve",
                    "--grpc-listen",
                    "127.0.0.1:0",
                    "--http-listen",
                    "127.0.0.1:0",
                    "--config",
                    dm->conf,
                    NULL,
                    NULL,
                    NULL};
    int fds[2];

    memset(dm, 0, sizeof(*dm));
    dm->out_fd = -1;
    if (write_config(dm, err))
        return AFD_EIO;
    if (token_file) {
        args[8] = "--token-file";
        args[9] = (char *)token_file;
    }
    if (pipe(fds))
        return afd_err(err, AFD_EIO, "pipe: %s", strerror(errno));
    dm->pid = fork();
    if (dm->pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return afd_err(err, AFD_EIO, "fork: %s", strerror(errno));
    }
    if (dm->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(bin, args);
        fprintf(stderr, "afd-loadgen: cannot run '%s': %s\n", bin,
                strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    dm->out_fd = fds[0];
    if (daemon_wait_ready(dm, err))
        return AFD_EIO;
    dm->draining = !pthread_create(&dm->drain, NULL, drain_main, dm);
    return AFD_OK;
}

/*
 * SIGTERM, then waits up to LG_STOP_WAIT_S for the exit (SIGKILL after).
 * AFD_OK only for exit status 0.
 */
int afd_lg_daemon_stop(struct afd_lg_daemon *dm, char *err)
{
    double t_end = afd_lg_now_s() + LG_STOP_WAIT_S;
    int status = 0;
    pid_t r;

    if (dm->pid <= 0) {
        remove_config(dm);
        return AFD_OK;
    }
    kill(dm->pid, SIGTERM);
    while ((r = waitpid(dm->pid, &status, WNOHANG)) == 0 &&
           afd_lg_now_s() < t_end)
        usleep(20000);
    if (r == 0) {
        kill(dm->pid, SIGKILL);
        waitpid(dm->pid, &status, 0);
    }
    dm->pid = 0;
    remove_config(dm);
    if (dm->draining) /* the daemon is gone: its stdout is at EOF */
        pthread_join(dm->drain, NULL);
    dm->draining = false;
    if (dm->out_fd >= 0)
        close(dm->out_fd);
    dm->out_fd = -1;
    if (r == 0)
        return afd_err(err, AFD_EIO,
                       "daemon still running %d s after "
                       "SIGTERM; killed",
                       LG_STOP_WAIT_S);
    if (r < 0)
        return afd_err(err, AFD_EIO, "waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        return afd_err(err, AFD_EIO, "daemon ended with %s %d after SIGTERM",
                       WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status)
                                         : WTERMSIG(status));
    return AFD_OK;
}
