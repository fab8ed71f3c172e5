/*
 * demo_proc.h - the child processes of `afd-sizer demo` (the daemon and the
 * afd-sim runs): start with stdout on a pipe and stderr in a log file, read
 * stdout without blocking, reap, stop with SIGTERM then SIGKILL.
 *
 * A child runs in its own process group (a terminal's Ctrl-C reaches only
 * the demo, which forwards a SIGTERM) and gets SIGTERM if the demo dies
 * (PR_SET_PDEATHSIG), so no child outlives the demo even when the demo is
 * killed with SIGKILL.
 *
 * Ownership: struct afd_demo_child is caller storage; afd_demo_child_init()
 * zeroes it, afd_demo_child_release() closes its pipe and frees the captured
 * stdout (it does not stop the process: call afd_demo_child_stop() first).
 * Captured stdout is bounded by AFD_DEMO_MAX_OUTPUT. One thread.
 */
#ifndef AFD_DEMO_PROC_H
#define AFD_DEMO_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define AFD_DEMO_MAX_OUTPUT (256u << 20) /* bytes of stdout kept per child */
#define AFD_DEMO_LOG_LEN    4096

struct afd_demo_child {
    const char *label; /* for messages: "daemon", "oracle" */
    pid_t pid;         /* > 0 while not reaped */
    int out_fd;        /* stdout pipe, -1 at EOF or closed */
    bool keep_output;  /* capture stdout (else discard) */
    char *out;         /* captured stdout, NUL-terminated */
    size_t out_len, out_cap;
    bool exited;                     /* reaped */
    int status;                      /* waitpid status once exited */
    char log_path[AFD_DEMO_LOG_LEN]; /* its stderr */
};

void afd_demo_child_init(struct afd_demo_child *c, const char *label,
                         bool keep_output);

/*
 * Starts argv[0] (a path) with argv, stdout on a pipe, stderr written to
 * log_path, stdin from /dev/null. AFD_EIO with the reason on failure (an
 * exec failure shows as exit status 127 and a line in the log).
 */
int afd_demo_child_spawn(struct afd_demo_child *c, char *const argv[],
                         const char *log_path, char *err);

/*
 * Reads what is available on the pipe (non-blocking). Returns AFD_OK,
 * AFD_ENOMEM past AFD_DEMO_MAX_OUTPUT. EOF closes out_fd (-1).
 */
int afd_demo_child_read(struct afd_demo_child *c, char *err);

/* waitpid(WNOHANG); true once the child has exited (status set). */
bool afd_demo_child_reap(struct afd_demo_child *c);

/*
 * Stops a live child: SIGTERM to its process group, waits up to grace_ms
 * for the child, then SIGKILL to the group and a final wait (5 s). No-op when
 * already reaped or never started. Returns true when it exited on its own
 * within the grace time (false: it was killed).
 */
bool afd_demo_child_stop(struct afd_demo_child *c, int grace_ms);

/* Exit status 0..255, or 128 + signal number when killed by a signal. */
int afd_demo_child_exit_code(const struct afd_demo_child *c);

void afd_demo_child_release(struct afd_demo_child *c);

/* The last up to len-1 bytes of a file (whole lines), "" when unreadable. */
void afd_demo_file_tail(const char *path, char *buf, size_t len);

/*
 * Removes dir and the regular files directly in it (the demo's work dir
 * holds no subdirectories). AFD_EIO naming the path on failure.
 */
int afd_demo_remove_dir(const char *dir, char *err);

#endif
