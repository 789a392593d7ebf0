/* The floor of a remote phase on JetStream: the round trips Planter's worker pools make per
 * attempt, with nothing else. Per item: publish the work item and wait for the stream's ack,
 * fetch it (as a worker), publish the result and wait for its ack, fetch the result (as
 * Planter), ack both. Prints the mean microseconds per item over N items. The worker's side
 * runs on a thread of its own with its fetch already waiting, as a planter worker's does.
 *
 *   cc -O2 -o floor floor.c -lnats -lpthread && ./floor nats://127.0.0.1:4222 1000
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

static void check(natsStatus s, const char *what) {
    if (s != NATS_OK) { fprintf(stderr, "floor: %s: %s\n", what, natsStatus_GetText(s)); exit(1); }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void stream(jsCtx *js, const char *name, const char *subject, jsRetentionPolicy retention) {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = &subject;
    cfg.SubjectsLen = 1;
    cfg.Retention = retention;
    cfg.Storage = js_FileStorage;
    jsErrCode code = 0;
    natsStatus s = js_AddStream(NULL, js, &cfg, NULL, &code);
    if (s != NATS_OK && code != JSStreamNameExistErr) check(s, "add stream");
}

static natsSubscription *consumer(jsCtx *js, const char *stream, const char *durable, const char *subject) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable;
    cc.FilterSubject = subject;
    cc.AckPolicy = js_AckExplicit;
    cc.MaxDeliver = 1;
    jsErrCode code = 0;
    natsStatus s = js_AddConsumer(NULL, js, stream, &cc, NULL, &code);
    if (s != NATS_OK && code != JSConsumerNameExistErr) check(s, "add consumer");
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Consumer = durable;
    natsSubscription *sub = NULL;
    check(js_PullSubscribe(&sub, js, subject, durable, NULL, &so, &code), "pull subscribe");
    return sub;
}

static natsMsg *fetch_one(natsSubscription *sub) {
    natsMsgList list = {0};
    jsErrCode code = 0;
    for (;;) {
        natsStatus s = natsSubscription_Fetch(&list, sub, 1, 5000, &code);
        if (s == NATS_TIMEOUT) continue; /* nats.c #631: a stale 408 can end a fetch early */
        check(s, "fetch");
        natsMsg *m = list.Msgs[0];
        list.Msgs[0] = NULL;
        natsMsgList_Destroy(&list);
        return m;
    }
}

static jsCtx *worker_js;
static natsSubscription *worker_sub;
static int worker_items;
static const char *result_body = "{\"protocol\":1,\"dispatchId\":\"0123456789abcdef\",\"worker\":\"w\",\"result\":{\"status\":\"succeeded\"}}";

static void *worker(void *unused) {
    (void)unused;
    for (int i = 0; i < worker_items; i++) {
        natsMsg *w = fetch_one(worker_sub);
        check(js_Publish(NULL, worker_js, "floor.result", result_body, (int)strlen(result_body), NULL, NULL), "publish result");
        check(natsMsg_AckSync(w, NULL, NULL), "ack work");
        natsMsg_Destroy(w);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: floor NATS_URL N\n"); return 2; }
    int n = atoi(argv[2]);
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    check(natsOptions_Create(&opts), "options");
    natsOptions_SetURL(opts, argv[1]);
    natsOptions_SetSendAsap(opts, true);
    check(natsConnection_Connect(&nc, opts), "connect");
    check(natsConnection_JetStream(&js, nc, NULL), "jetstream");
    stream(js, "FLOOR_WORK", "floor.work", js_WorkQueuePolicy);
    stream(js, "FLOOR_RESULTS", "floor.result", js_LimitsPolicy);
    natsSubscription *work = consumer(js, "FLOOR_WORK", "pool", "floor.work");
    natsSubscription *results = consumer(js, "FLOOR_RESULTS", "planter", "floor.result");
    const char *item = "{\"protocol\":1,\"dispatchId\":\"0123456789abcdef\",\"pool\":\"p\",\"leaseMs\":30000,\"request\":{}}";
    worker_js = js;
    worker_sub = work;
    worker_items = n;
    pthread_t thread;
    pthread_create(&thread, NULL, worker, NULL);
    double start = now();
    for (int i = 0; i < n; i++) {
        char id[64];
        jsPubOptions po;
        jsPubOptions_Init(&po);
        snprintf(id, sizeof id, "run/phase/%d", i);
        po.MsgId = id;
        check(js_Publish(NULL, js, "floor.work", item, (int)strlen(item), &po, NULL), "publish work");
        natsMsg *r = fetch_one(results);
        check(natsMsg_Ack(r, NULL), "ack result");
        natsMsg_Destroy(r);
    }
    double elapsed = now() - start;
    pthread_join(thread, NULL);
    printf("%.1f\n", elapsed / n * 1e6);
    natsSubscription_Destroy(work);
    natsSubscription_Destroy(results);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    return 0;
}
