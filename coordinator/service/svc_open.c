/* service/svc_open.c - starting and stopping the coordinator. */
#define _GNU_SOURCE
#include "svc_internal.h"

#include "../store/store_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_opt(const char *v, const char *dflt)
{
    v = v ? v : dflt;
    return v ? strdup(v) : NULL;
}

sf_rc svc_open(const svc_config *cfg, svc **out, char *err, size_t errlen)
{
    *out = NULL;
    svc *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return SF_ENOMEM;
    }
    s->cfg = *cfg;
    s->db_path = dup_opt(cfg->db_path, NULL);
    s->region = dup_opt(cfg->region, "us-east-1");
    s->account = dup_opt(cfg->account, "123456789012");
    s->public_url = dup_opt(cfg->public_url, NULL);
    s->functions_dir = dup_opt(cfg->functions_dir, NULL);
    s->data_root = dup_opt(cfg->data_root, NULL);
    /* Under 60 s so that clients with a 60 s read timeout (boto3's
     * default) get the empty answer rather than a timeout. */
    s->poll_ms = (cfg->poll_seconds > 0 ? cfg->poll_seconds : 55) * 1000LL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->committed_cv, NULL);
    pthread_mutex_init(&s->commit_mu, NULL);
    for (int i = 0; i < 4; i++)
        pthread_cond_init(&s->commit_cv[i], NULL);
    pthread_cond_init(&s->render_cv, NULL);
    pthread_cond_init(&s->writer_cv, NULL);
    pthread_cond_init(&s->timer_cv, NULL);
    pthread_cond_init(&s->runner_cv, NULL);
    sf_rc rc = svc_reader_key_init(s);
    if (rc != SF_OK || !s->db_path || !s->region || !s->account) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return SF_ENOMEM;
    }
    rc = store_open(s->db_path, cfg->sync, &s->st, err, errlen);
    if (rc == SF_OK && store_secret(s->st, "task_token_key", s->token_key,
                                    sizeof s->token_key) != SF_OK) {
        snprintf(err, errlen, "%s: cannot read or make the task token key", s->db_path);
        rc = SF_EIO;
    }
    if (rc == SF_OK && s->data_root && !(s->objstore = integ_objstore_local_new(s->data_root))) {
        snprintf(err, errlen, "%s: cannot open the object store", s->data_root);
        rc = SF_EIO;
    }
    if (rc == SF_OK)
        rc = svc_fleet_open(s, err, errlen);
    if (rc == SF_OK) {
        s->next_machine_id = store_max_id(s->st, "machines") + 1;
        s->next_exec_id = store_max_id(s->st, "executions") + 1;
        s->next_activity_id = store_max_id(s->st, "activities") + 1;
        s->pending = svc_batch_new(1);
        pthread_mutex_lock(&s->mu);
        rc = svc_recover(s, err, errlen);
        pthread_mutex_unlock(&s->mu);
    }
    if (rc == SF_OK && svc_start_threads(s) != SF_OK) {
        snprintf(err, errlen, "cannot start the coordinator's threads");
        rc = SF_EIO;
    }
    if (rc == SF_OK)
        rc = svc_fleet_start_locals(s, err, errlen);
    if (rc != SF_OK) {
        svc_close(&s);
        return rc;
    }
    *out = s;
    return SF_OK;
}

void svc_machine_free(svc_machine *m)
{
    svc_version_release(m->cur);
    free(m->arn);
    free(m->name);
    free(m->type);
    free(m);
}

void svc_close(svc **sp)
{
    svc *s = *sp;
    if (!s)
        return;
    /* The fleet first: its hooks drive engines through the threads. */
    svc_fleet_close(s);
    if (s->threads_up)
        svc_stop_threads(s);
    if (s->pending)
        svc_batch_free(s->pending);
    if (s->ready)
        svc_batch_free(s->ready);
    size_t i = 0;
    sf_hmap_slot *sl;
    while ((sl = sf_hmap_next(&s->execs, &i)))
        svc_exec_free(s, sl->value);
    i = 0;
    while ((sl = sf_hmap_next(&s->machines, &i)))
        svc_machine_free(sl->value);
    i = 0;
    while ((sl = sf_hmap_next(&s->activities, &i)))
        svc_activity_free(sl->value);
    sf_hmap_free(&s->execs);
    sf_hmap_free(&s->exec_arns);
    sf_hmap_free(&s->machines);
    sf_hmap_free(&s->activities);
    free(s->heap);
    integ_objstore_destroy(&s->objstore);
    store_close(&s->st);
    sqlite3 *db = pthread_getspecific(s->reader_key);
    if (db)
        store_close_reader(db);
    pthread_setspecific(s->reader_key, NULL);
    pthread_key_delete(s->reader_key);
    free(s->db_path);
    free(s->region);
    free(s->account);
    free(s->public_url);
    free(s->functions_dir);
    free(s->data_root);
    free(s);
    *sp = NULL;
}

void svc_set_public_url(svc *s, const char *url)
{
    char *u = url ? strdup(url) : NULL;
    pthread_mutex_lock(&s->mu);
    free(s->public_url);
    s->public_url = u;
    /* Links logged before (by an earlier run, maybe on another port) may
     * be dead: give every callback still waiting its links again. */
    size_t i = 0;
    sf_hmap_slot *sl;
    while ((sl = sf_hmap_next(&s->execs, &i))) {
        svc_exec *x = sl->value;
        for (size_t k = 0; k < x->ntasks; k++)
            if (x->tasks[k]->kind == TK_CALLBACK && x->tasks[k]->started)
                svc_announce_callback(s, x, x->tasks[k]);
    }
    pthread_mutex_unlock(&s->mu);
}
