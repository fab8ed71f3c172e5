/*
 * snapshot_writer.c - the snapshot writer thread (snapshot_writer.h).
 */
#include "plugin/daemon/snapshot_writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/snapshot.h"

struct afd_snapshot_writer {
    char path[AFD_PATH_LEN];
    pthread_t thread;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;
    uint8_t *job; /* bytes to write, NULL when idle */
    size_t job_len;
    bool writing; /* the thread took the job and is writing */
    bool stop;
    struct afd_snapshot_writer_stats st;
};

static void *writer_main(void *arg)
{
    struct afd_snapshot_writer *w = arg;
    char err[AFD_ERR_LEN];
    uint8_t *buf;
    size_t len;
    int rc;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->job && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        if (!w->job)
            break; /* stop, nothing left to write */
        buf = w->job;
        len = w->job_len;
        w->writing = true;
        pthread_mutex_unlock(&w->lock);
        err[0] = '\0';
        rc = afd_snapshot_write(w->path, buf, len, err);
        free(buf);
        pthread_mutex_lock(&w->lock);
        if (rc == AFD_OK) {
            w->st.written++;
            w->st.last_error[0] = '\0';
        } else {
            w->st.failed++;
            /* Once per distinct failure, not every period. */
            if (strcmp(w->st.last_error, err))
                fprintf(stderr,
                        "afd-sizer: snapshot save failed (old snapshot "
                        "kept, still serving): %s\n",
                        err);
            snprintf(w->st.last_error, sizeof(w->st.last_error), "%s", err);
        }
        w->job = NULL;
        w->writing = false;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct afd_snapshot_writer *afd_snapshot_writer_new(const char *path,
                                                    char *err)
{
    struct afd_snapshot_writer *w = calloc(1, sizeof(*w));

    if (!w) {
        afd_err(err, AFD_ENOMEM, "out of memory for the snapshot writer");
        return NULL;
    }
    snprintf(w->path, sizeof(w->path), "%s", path);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w)) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        afd_err(err, AFD_ENOMEM, "cannot start the snapshot writer thread");
        return NULL;
    }
    return w;
}

void afd_snapshot_writer_free(struct afd_snapshot_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    free(w->job); /* never set here: the thread writes a job before it stops */
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int afd_snapshot_writer_submit(struct afd_snapshot_writer *w,
                               struct afd_registry *reg, char *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    bool busy;
    int rc;

    pthread_mutex_lock(&w->lock);
    busy = w->job || w->writing;
    if (busy)
        w->st.skipped++;
    pthread_mutex_unlock(&w->lock);
    if (busy)
        return afd_err(err, AFD_ESTATE,
                       "the previous snapshot write is still running");
    rc = afd_snapshot_encode(reg, &buf, &len, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&w->lock);
    w->job = buf;
    w->job_len = len;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return AFD_OK;
}

void afd_snapshot_writer_drain(struct afd_snapshot_writer *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->job || w->writing)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void afd_snapshot_writer_stats(struct afd_snapshot_writer *w,
                               struct afd_snapshot_writer_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->st;
    out->busy = w->job || w->writing;
    pthread_mutex_unlock(&w->lock);
}
