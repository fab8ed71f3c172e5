/*
 * ha.c - the HA worker thread of ha.h: election steps, the takeover read,
 * fenced state writes (leader) and state reads (follower).
 *
 * Everything the loop reads is published under mu; the election state
 * itself (e) and the etcd clients belong to the worker alone.
 */
#include "plugin/ha/ha.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estimator/base/error.h"
#include "plugin/ha/etcd.h"
#include "plugin/ha/replica.h"
#include "plugin/sys/os.h"

/* Largest state blob read back (etcd's default request limit is 1.5 MiB). */
#define STATE_CAP (2 * 1024 * 1024)

struct afd_ha {
    struct afd_ha_config cfg;
    char self[AFD_HA_ADDR_LEN];
    char leader_key[AFD_HA_PREFIX_LEN + 16];
    char state_key[AFD_HA_PREFIX_LEN + 16];
    struct afd_etcd *etcd[AFD_HA_MAX_ENDPOINTS];
    int n_etcd, cur;
    int timeout_ms;
    struct afd_ha_election e; /* worker only */
    uint8_t *rbuf;            /* worker only: read buffer, STATE_CAP */
    uint8_t *last;            /* worker only: the last blob handed over */
    size_t last_len;
    bool have_last;
    void (*notify)(void *arg);
    void *arg;
    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    bool stop;
    enum afd_ha_role role;
    int64_t epoch, valid_until, epoch_seen, ready_epoch;
    char leader_addr[AFD_HA_ADDR_LEN];
    bool etcd_up;
    char last_error[AFD_HA_ERR_LEN];
    uint64_t leader_changes, writes, write_failures, reads;
    int64_t state_ok_ms; /* last good read/write, 0 = never */
    bool take_ready, takeover_pending;
    uint8_t *take_buf;
    size_t take_len;
    uint8_t *wbuf; /* the newest blob to write */
    size_t wlen;
    uint64_t wseq, written, next_seq;
};

void afd_ha_config_default(struct afd_ha_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->prefix, sizeof(c->prefix), "/afd-sizer");
    c->ttl_ms = 5000;
    c->state_interval_ms = 1000;
}

int afd_ha_config_check(const struct afd_ha_config *c, char *err)
{
    const char *p;
    int n = 1;

    if (c->ttl_ms < 2000 || c->ttl_ms > 600000)
        return afd_err(err, AFD_EINVAL,
                       "ha.ttl_ms must be in [2000, 600000] ms (etcd leases "
                       "are whole seconds, at least 2), got %d",
                       c->ttl_ms);
    if (c->state_interval_ms < 50 || c->state_interval_ms > c->ttl_ms)
        return afd_err(err, AFD_EINVAL,
                       "ha.state_interval_ms must be in [50, ttl_ms], got %d",
                       c->state_interval_ms);
    if (c->prefix[0] != '/' || strlen(c->prefix) < 2)
        return afd_err(err, AFD_EINVAL,
                       "ha.prefix must start with '/' and name something, "
                       "got '%s'",
                       c->prefix);
    if (!c->tls_ca_file[0] && (c->tls_cert_file[0] || c->tls_key_file[0]))
        return afd_err(err, AFD_EINVAL,
                       "ha.tls_cert_file/tls_key_file need ha.tls_ca_file "
                       "(--etcd-tls-ca)");
    if (!c->tls_cert_file[0] != !c->tls_key_file[0])
        return afd_err(err, AFD_EINVAL,
                       "ha.tls_cert_file and ha.tls_key_file go together "
                       "(--etcd-tls-cert, --etcd-tls-key)");
    if (!c->endpoints[0])
        return AFD_OK;
    for (p = c->endpoints; *p; p++)
        n += *p == ',';
    if (n > AFD_HA_MAX_ENDPOINTS || strstr(c->endpoints, ",,") ||
        c->endpoints[0] == ',' || p[-1] == ',')
        return afd_err(err, AFD_EINVAL,
                       "ha.etcd_endpoints must be 1 to %d HOST:PORT "
                       "separated by commas, got '%s'",
                       AFD_HA_MAX_ENDPOINTS, c->endpoints);
    return AFD_OK;
}

static void wake_loop(struct afd_ha *h)
{
    if (h->notify)
        h->notify(h->arg);
}

/* Publishes the election's outcome; true when the loop should look. */
static bool publish(struct afd_ha *h, bool called, bool failed, const char *err)
{
    bool changed;

    pthread_mutex_lock(&h->mu);
    changed = h->role != h->e.role || h->epoch != h->e.epoch ||
              strcmp(h->leader_addr, h->e.leader_addr) != 0;
    if (h->role == AFD_HA_LEADER && h->e.role != AFD_HA_LEADER) {
        /* Deposed: nothing we queued may be written any more. */
        h->ready_epoch = 0;
        h->takeover_pending = false;
        free(h->wbuf);
        h->wbuf = NULL;
    }
    h->role = h->e.role;
    h->epoch = h->e.epoch;
    h->valid_until = h->e.valid_until_ms;
    h->epoch_seen = h->e.leader_epoch_seen;
    h->leader_changes = h->e.leader_changes;
    snprintf(h->leader_addr, sizeof(h->leader_addr), "%s", h->e.leader_addr);
    if (h->role == AFD_HA_LEADER)
        snprintf(h->leader_addr, sizeof(h->leader_addr), "%s", h->self);
    if (called) {
        changed |= h->etcd_up == failed;
        h->etcd_up = !failed;
        if (failed)
            snprintf(h->last_error, sizeof(h->last_error), "%s", err);
    }
    pthread_mutex_unlock(&h->mu);
    return changed;
}

static void call_failed(struct afd_ha *h, const char *err)
{
    pthread_mutex_lock(&h->mu);
    h->etcd_up = false;
    snprintf(h->last_error, sizeof(h->last_error), "%s", err);
    pthread_mutex_unlock(&h->mu);
    /* The next call goes to the next endpoint. */
    h->cur = (h->cur + 1) % h->n_etcd;
}

/* Reads <prefix>/state; hands it over when new (or always, takeover). */
static bool read_state(struct afd_ha *h, bool takeover, char *err)
{
    size_t len = 0;
    bool found = false, fresh;
    uint8_t *copy;
    int rc;

    rc = afd_etcd_get(h->etcd[h->cur], h->state_key, h->rbuf, STATE_CAP, &len,
                      &found, NULL, h->timeout_ms, err);
    if (rc != AFD_OK) {
        call_failed(h, err);
        return false;
    }
    if (!found)
        len = 0;
    fresh = !h->have_last || len != h->last_len ||
            (len && memcmp(h->rbuf, h->last, len) != 0);
    if (!fresh && !takeover) {
        pthread_mutex_lock(&h->mu);
        h->etcd_up = true;
        h->state_ok_ms = afd_clock_mono_ms();
        pthread_mutex_unlock(&h->mu);
        return false;
    }
    copy = malloc(len ? len : 1);
    if (!copy || (fresh && !(h->last = realloc(h->last, len ? len : 1)))) {
        free(copy);
        h->have_last = false;
        return false;
    }
    if (len) {
        memcpy(copy, h->rbuf, len);
        memcpy(h->last, h->rbuf, len);
    }
    h->last_len = len;
    h->have_last = true;
    pthread_mutex_lock(&h->mu);
    free(h->take_buf);
    h->take_buf = copy;
    h->take_len = len;
    h->take_ready = true;
    h->etcd_up = true;
    h->state_ok_ms = afd_clock_mono_ms();
    h->reads++;
    if (takeover) {
        h->ready_epoch = h->e.epoch;
        h->takeover_pending = true;
    }
    pthread_mutex_unlock(&h->mu);
    return true;
}

/* Leader: writes the newest queued blob, fenced on our epoch; true when
 * it was applied. */
static bool write_state(struct afd_ha *h, char *err)
{
    uint8_t *buf;
    size_t len;
    uint64_t seq;
    bool applied = false;
    int rc;

    pthread_mutex_lock(&h->mu);
    buf = h->wbuf;
    len = h->wlen;
    seq = h->wseq;
    h->wbuf = NULL;
    pthread_mutex_unlock(&h->mu);
    if (!buf)
        return false;
    rc = afd_etcd_put_fenced(h->etcd[h->cur], h->leader_key, h->e.epoch,
                             h->state_key, buf, len, &applied, h->timeout_ms,
                             err);
    pthread_mutex_lock(&h->mu);
    if (rc == AFD_OK && applied) {
        h->writes++;
        if (seq > h->written)
            h->written = seq;
        h->state_ok_ms = afd_clock_mono_ms();
        h->etcd_up = true;
    } else {
        h->write_failures++;
        if (!h->wbuf) { /* retry it unless a newer one came */
            h->wbuf = buf;
            h->wlen = len;
            buf = NULL;
        }
    }
    pthread_mutex_unlock(&h->mu);
    free(buf);
    if (rc != AFD_OK) {
        call_failed(h, err);
    } else if (!applied) {
        /* The leader key is no longer ours: stop at once. */
        afd_ha_on_step_down(&h->e, afd_clock_mono_ms());
        (void)publish(h, true, false, "");
        return true;
    }
    return rc == AFD_OK && applied;
}

/* Sleeps until due_ms (at most 1 s) unless stopped or a blob newer than
 * seq was queued meanwhile. */
static void wait_until(struct afd_ha *h, int64_t due_ms, uint64_t seq)
{
    int64_t now = afd_clock_mono_ms(), wait = due_ms - now;
    struct timespec ts;

    if (wait <= 0)
        return;
    if (wait > 1000)
        wait = 1000;
    ts = afd_timespec_after_ms(CLOCK_MONOTONIC, wait);
    pthread_mutex_lock(&h->mu);
    if (!h->stop && h->wseq == seq)
        (void)pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    pthread_mutex_unlock(&h->mu);
}

/* Followers poll 4x per leader write period: a command or an ack (written
 * at once) reaches every replica within about a quarter of it. Reads make
 * no etcd revisions, unlike writes. */
static int64_t follower_poll_ms(const struct afd_ha *h)
{
    int64_t p = h->cfg.state_interval_ms / 4;
    return p < 50 ? 50 : p;
}

/* Pause after a failed takeover read or state write (etcd may refuse
 * at once; never spin on it). */
#define RETRY_MS 100

static void *run(void *arg)
{
    struct afd_ha *h = arg;
    int64_t next_read = 0, retry_at = 0, due, now;
    char err[AFD_ERR_LEN];
    enum afd_ha_action a;
    bool stop, look, takeover, queued;
    uint64_t seq;

    for (;;) {
        pthread_mutex_lock(&h->mu);
        stop = h->stop;
        seq = h->wseq;
        pthread_mutex_unlock(&h->mu);
        if (stop)
            break;
        err[0] = '\0';
        a = afd_ha_step(&h->e, h->etcd[h->cur], h->leader_key, h->self,
                        afd_clock_mono_ms, h->timeout_ms, err);
        if (a != AFD_HA_WAIT && a != AFD_HA_STEP_DOWN && err[0])
            call_failed(h, err);
        look = publish(h, a != AFD_HA_WAIT && a != AFD_HA_STEP_DOWN,
                       a != AFD_HA_WAIT && err[0] != '\0', err);
        now = afd_clock_mono_ms();
        due = afd_ha_next_due_ms(&h->e);
        if (h->e.role == AFD_HA_LEADER) {
            pthread_mutex_lock(&h->mu);
            takeover = h->ready_epoch != h->e.epoch;
            queued = h->wbuf != NULL;
            pthread_mutex_unlock(&h->mu);
            if ((takeover || queued) && now >= retry_at) {
                /* A new leader resumes from the state before it commands. */
                bool ok =
                    takeover ? read_state(h, true, err) : write_state(h, err);
                look |= ok;
                if (!ok)
                    retry_at = now + RETRY_MS;
                if (look)
                    wake_loop(h);
                continue; /* re-check the election and the queue */
            }
            if (takeover || queued)
                due = due < retry_at ? due : retry_at;
            next_read = 0;
        } else {
            if (now >= next_read) {
                look |= read_state(h, false, err);
                next_read = afd_clock_mono_ms() + follower_poll_ms(h);
            }
            due = due < next_read ? due : next_read;
        }
        if (look)
            wake_loop(h);
        wait_until(h, due, seq);
    }
    if (h->e.role == AFD_HA_LEADER && h->e.lease_id) {
        /* Hand over now rather than after the TTL. */
        afd_ha_on_step_down(&h->e, afd_clock_mono_ms());
        (void)afd_etcd_lease_revoke(h->etcd[h->cur], h->e.lease_id,
                                    h->timeout_ms, err);
    }
    return NULL;
}

/* The TLS files of cfg, read; pem[i] NULL where not configured. */
static int read_pems(const struct afd_ha_config *cfg, char *pem[3], char *err)
{
    const char *path[3] = {cfg->tls_ca_file, cfg->tls_cert_file,
                           cfg->tls_key_file};
    char why[AFD_ERR_LEN];
    size_t len;
    int i;

    for (i = 0; i < 3; i++)
        if (path[i][0] && afd_read_file(path[i], 1 << 20, &pem[i], &len, why))
            return afd_err(err, AFD_EINVAL, "ha: %s", why);
    return AFD_OK;
}

static int add_endpoints(struct afd_ha *h, char *err)
{
    char list[AFD_HA_ENDPOINTS_LEN], *save = NULL, *tok;
    char *pem[3] = {NULL, NULL, NULL};
    int i, rc = read_pems(&h->cfg, pem, err);

    snprintf(list, sizeof(list), "%s", h->cfg.endpoints);
    for (tok = strtok_r(list, ",", &save); !rc && tok;
         tok = strtok_r(NULL, ",", &save)) {
        h->etcd[h->n_etcd] =
            pem[0] ? afd_etcd_new_tls(tok, pem[0], pem[1], pem[2], err)
                   : afd_etcd_new(tok, err);
        if (!h->etcd[h->n_etcd])
            rc = AFD_EINVAL;
        else
            h->n_etcd++;
    }
    for (i = 0; i < 3; i++) { /* the channels keep their own copies */
        if (pem[i])
            memset(pem[i], 0, strlen(pem[i]));
        free(pem[i]);
    }
    if (rc)
        return rc;
    return h->n_etcd ? AFD_OK
                     : afd_err(err, AFD_EINVAL, "ha: no etcd endpoint given");
}

struct afd_ha *afd_ha_start(const struct afd_ha_config *cfg,
                            const char *self_addr, void (*notify)(void *arg),
                            void *arg, char *err)
{
    struct afd_ha *h;
    int64_t margin;

    if (afd_ha_config_check(cfg, err))
        return NULL;
    h = calloc(1, sizeof(*h));
    if (!h || !(h->rbuf = malloc(STATE_CAP))) {
        free(h);
        afd_err(err, AFD_ENOMEM, "ha: out of memory");
        return NULL;
    }
    h->cfg = *cfg;
    snprintf(h->self, sizeof(h->self), "%s",
             cfg->advertise[0] ? cfg->advertise : self_addr);
    snprintf(h->leader_key, sizeof(h->leader_key), "%s/leader", cfg->prefix);
    snprintf(h->state_key, sizeof(h->state_key), "%s/state", cfg->prefix);
    h->notify = notify;
    h->arg = arg;
    /* Each call ends well inside the lease: a renewal that hangs must
     * leave time for the next try. */
    h->timeout_ms = cfg->ttl_ms / 4 < 1000 ? cfg->ttl_ms / 4 : 1000;
    /* Step down a fifth of the TTL early: clocks and scheduling slack. */
    margin = cfg->ttl_ms / 5;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (afd_ha_init(&h->e, cfg->ttl_ms, margin, err) || add_endpoints(h, err)) {
        afd_ha_free(h);
        return NULL;
    }
    if (pthread_create(&h->th, NULL, run, h)) {
        afd_err(err, AFD_EIO, "ha: cannot start the worker thread");
        afd_ha_free(h);
        return NULL;
    }
    h->started = true;
    return h;
}

void afd_ha_free(struct afd_ha *h)
{
    int i;

    if (!h)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->th, NULL);
    }
    for (i = 0; i < h->n_etcd; i++)
        afd_etcd_free(h->etcd[i]);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h->rbuf);
    free(h->last);
    free(h->take_buf);
    free(h->wbuf);
    free(h);
}

bool afd_ha_can_command(struct afd_ha *h, int64_t now_ms, int64_t *epoch)
{
    bool ok;

    pthread_mutex_lock(&h->mu);
    ok = h->role == AFD_HA_LEADER && now_ms < h->valid_until &&
         h->ready_epoch == h->epoch && !h->takeover_pending;
    *epoch = ok ? h->epoch : 0;
    pthread_mutex_unlock(&h->mu);
    return ok;
}

bool afd_ha_take_state(struct afd_ha *h, uint8_t **buf, size_t *len)
{
    bool ready;

    pthread_mutex_lock(&h->mu);
    ready = h->take_ready;
    if (ready) {
        *buf = h->take_buf;
        *len = h->take_len;
        h->take_buf = NULL;
        h->take_len = 0;
        h->take_ready = false;
        h->takeover_pending = false;
    }
    pthread_mutex_unlock(&h->mu);
    return ready;
}

uint64_t afd_ha_write_state(struct afd_ha *h, const uint8_t *buf, size_t len)
{
    uint8_t *copy;
    uint64_t seq = 0;

    copy = malloc(len ? len : 1);
    if (!copy)
        return 0;
    memcpy(copy, buf, len);
    pthread_mutex_lock(&h->mu);
    if (h->role == AFD_HA_LEADER) {
        free(h->wbuf);
        h->wbuf = copy;
        h->wlen = len;
        seq = h->wseq = ++h->next_seq;
        copy = NULL;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    free(copy);
    return seq;
}

uint64_t afd_ha_written(struct afd_ha *h)
{
    uint64_t w;

    pthread_mutex_lock(&h->mu);
    w = h->written;
    pthread_mutex_unlock(&h->mu);
    return w;
}

void afd_ha_status(struct afd_ha *h, int64_t now_ms, struct afd_ha_status *out)
{
    int64_t epoch;

    memset(out, 0, sizeof(*out));
    out->may_command = afd_ha_can_command(h, now_ms, &epoch);
    pthread_mutex_lock(&h->mu);
    out->role = h->role;
    out->epoch = h->role == AFD_HA_LEADER ? h->epoch : 0;
    out->epoch_seen = h->epoch_seen;
    snprintf(out->leader_addr, sizeof(out->leader_addr), "%s", h->leader_addr);
    out->etcd_up = h->etcd_up;
    snprintf(out->last_error, sizeof(out->last_error), "%s", h->last_error);
    out->leader_changes = h->leader_changes;
    out->state_writes = h->writes;
    out->state_write_failures = h->write_failures;
    out->state_reads = h->reads;
    out->state_read_age_ms = h->state_ok_ms ? now_ms - h->state_ok_ms : -1;
    pthread_mutex_unlock(&h->mu);
}
