/* bench/floor_server.c: msw-floor, the minimal libwebsockets server that
 * every msw figure in bench/ is compared to.
 *
 * It runs lws exactly as an msw worker does (LWS_SERVER_OPTION_LIBEV on a
 * foreign libev loop made with ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK),
 * keep-alive off through an all-zero retry_and_idle_policy, the same
 * rx_buffer_size / tx_packet_size / max_http_header_data / UTF-8 validation)
 * and does the least an application can do with the standard lws idiom:
 *
 *   {"method":"index.index.echo",...}  -> {"status":200,"event":"echo","info":"","param":MSG}
 *   {"method":"bench.room.join",...}   -> joins the one room, {"status":200,"event":"joined","info":""}
 *   {"method":"bench.room.say",...}    -> {"status":200,"event":"say","info":"","param":MSG}
 *                                         to every member of the room
 *
 * Replies and broadcasts are queued per connection (a broadcast shares one
 * reference-counted buffer among its recipients), lws_callback_on_writable
 * is asked when a queue becomes non-empty, and each SERVER_WRITEABLE does
 * exactly one lws_write. No auth, no JSON parser: the floor measures lws.
 *
 *   msw-floor [--port 7681] [--iface 127.0.0.1] [--rx-buffer-size 1024]
 *             [--tx-packet-size 65536] [--no-utf8-validate]
 *
 * SIGINT / SIGTERM: leave the loop, destroy the context, exit 0.
 */
#define _GNU_SOURCE /* memmem */
#include <ev.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* One message to send; its bytes start at buf + LWS_PRE. Freed when the last
 * queue holding it has written it. */
struct msg {
  unsigned refs;
  size_t len;
  unsigned char buf[];
};

/* Per connection, zeroed by lws; lives from ESTABLISHED to CLOSED. */
struct pss {
  struct lws *wsi;
  struct pss *prev, *next; /* room membership */
  int in_room;
  struct msg **q; /* circular queue of messages to write */
  unsigned qcap, qhead, qlen;
  char *rx; /* a message arriving in several chunks */
  size_t rxlen, rxcap;
};

static struct pss *room_head;
static unsigned room_size;
static struct ev_loop *loop;

static struct msg *msg_new(const char *a, size_t alen, const char *b, size_t blen, const char *c, size_t clen) {
  struct msg *m = malloc(sizeof *m + LWS_PRE + alen + blen + clen);
  if (!m) return NULL;
  m->refs = 0;
  m->len = alen + blen + clen;
  memcpy(m->buf + LWS_PRE, a, alen);
  memcpy(m->buf + LWS_PRE + alen, b, blen);
  memcpy(m->buf + LWS_PRE + alen + blen, c, clen);
  return m;
}

static void msg_unref(struct msg *m) {
  if (--m->refs == 0) free(m);
}

static int enqueue(struct pss *p, struct msg *m) {
  if (p->qlen == p->qcap) {
    unsigned ncap = p->qcap ? p->qcap * 2 : 8;
    struct msg **nq = malloc(ncap * sizeof *nq);
    if (!nq) return -1;
    for (unsigned i = 0; i < p->qlen; i++) nq[i] = p->q[(p->qhead + i) % p->qcap];
    free(p->q);
    p->q = nq;
    p->qcap = ncap;
    p->qhead = 0;
  }
  p->q[(p->qhead + p->qlen) % p->qcap] = m;
  p->qlen++;
  m->refs++;
  /* Ask once per batch: WRITEABLE asks again while the queue is not empty. */
  if (p->qlen == 1) lws_callback_on_writable(p->wsi);
  return 0;
}

static void room_leave(struct pss *p) {
  if (!p->in_room) return;
  if (p->prev) p->prev->next = p->next;
  else room_head = p->next;
  if (p->next) p->next->prev = p->prev;
  p->prev = p->next = NULL;
  p->in_room = 0;
  room_size--;
}

static const char kEchoHead[] = "{\"status\":200,\"event\":\"echo\",\"info\":\"\",\"param\":";
static const char kSayHead[] = "{\"status\":200,\"event\":\"say\",\"info\":\"\",\"param\":";
static const char kJoined[] = "{\"status\":200,\"event\":\"joined\",\"info\":\"\"}";
static const char kNotFound[] = "{\"status\":404,\"event\":\"controllerNotFound\",\"info\":\"no such method\"}";

static int method_is(const char *m, const char *end, const char *name) {
  size_t n = strlen(name);
  return (size_t)(end - m) > n && !memcmp(m, name, n) && m[n] == '"';
}

static int on_message(struct pss *p, const char *in, size_t len) {
  static const char key[] = "\"method\":\"";
  const char *end = in + len;
  const char *m = memmem(in, len, key, sizeof key - 1);
  struct msg *out;
  if (m) m += sizeof key - 1;
  if (m && method_is(m, end, "index.index.echo")) {
    out = msg_new(kEchoHead, sizeof kEchoHead - 1, in, len, "}", 1);
    return out ? enqueue(p, out) : -1;
  }
  if (m && method_is(m, end, "bench.room.say")) {
    out = msg_new(kSayHead, sizeof kSayHead - 1, in, len, "}", 1);
    if (!out) return -1;
    out->refs = 1; /* held while the room is walked */
    for (struct pss *r = room_head; r; r = r->next) enqueue(r, out);
    msg_unref(out);
    return 0;
  }
  if (m && method_is(m, end, "bench.room.join")) {
    if (!p->in_room) {
      p->next = room_head;
      if (room_head) room_head->prev = p;
      room_head = p;
      p->prev = NULL;
      p->in_room = 1;
      room_size++;
    }
    out = msg_new(kJoined, sizeof kJoined - 1, "", 0, "", 0);
    return out ? enqueue(p, out) : -1;
  }
  out = msg_new(kNotFound, sizeof kNotFound - 1, "", 0, "", 0);
  return out ? enqueue(p, out) : -1;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  struct pss *p = user;
  switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
      p->wsi = wsi;
      return 0;

    case LWS_CALLBACK_RECEIVE: {
      int done = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
      if (done && p->rxlen == 0) return on_message(p, in, len) ? -1 : 0;
      if (p->rxlen + len > p->rxcap) {
        size_t ncap = (p->rxlen + len) * 2;
        char *n = realloc(p->rx, ncap);
        if (!n) return -1;
        p->rx = n;
        p->rxcap = ncap;
      }
      memcpy(p->rx + p->rxlen, in, len);
      p->rxlen += len;
      if (!done) return 0;
      size_t whole = p->rxlen;
      p->rxlen = 0;
      return on_message(p, p->rx, whole) ? -1 : 0;
    }

    case LWS_CALLBACK_SERVER_WRITEABLE: {
      if (!p->qlen) return 0;
      struct msg *m = p->q[p->qhead];
      p->qhead = (p->qhead + 1) % p->qcap;
      p->qlen--;
      int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
      int short_write = n < (int)m->len;
      msg_unref(m);
      if (short_write) return -1;
      if (p->qlen) lws_callback_on_writable(wsi);
      return 0;
    }

    case LWS_CALLBACK_CLOSED:
      room_leave(p);
      while (p->qlen) {
        msg_unref(p->q[p->qhead]);
        p->qhead = (p->qhead + 1) % p->qcap;
        p->qlen--;
      }
      free(p->q);
      free(p->rx);
      p->q = NULL;
      p->rx = NULL;
      p->qcap = 0;
      p->rxcap = p->rxlen = 0;
      return 0;

    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

static struct lws_protocols protocols[] = {
    {"floor", callback, sizeof(struct pss), 1024, 0, NULL, 65536},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Keep-alive off, as in msw: lws's sorted timer list is O(n) per insert. */
static const lws_retry_bo_t no_keepalive;

static void on_signal(struct ev_loop *l, ev_signal *w, int revents) {
  (void)w;
  (void)revents;
  ev_break(l, EVBREAK_ALL);
}

static void usage(void) {
  fprintf(stderr,
          "usage: msw-floor [--port 7681] [--iface ADDR] [--rx-buffer-size 1024] [--tx-packet-size 65536]\n"
          "                 [--no-utf8-validate]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int port = 7681;
  const char *iface = NULL;
  int validate_utf8 = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--no-utf8-validate")) {
      validate_utf8 = 0;
      continue;
    }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--iface")) iface = v;
    else if (!strcmp(a, "--rx-buffer-size")) protocols[0].rx_buffer_size = (size_t)atol(v);
    else if (!strcmp(a, "--tx-packet-size")) protocols[0].tx_packet_size = (size_t)atol(v);
    else usage();
  }

  /* lws sizes its descriptor table from the limit at context creation. */
  struct rlimit rl;
  if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
  loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
  if (!loop) {
    fprintf(stderr, "msw-floor: ev_loop_new failed\n");
    return 1;
  }
  void *foreign[1] = {loop};
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = port;
  info.iface = iface;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_DISABLE_IPV6 |
                 (validate_utf8 ? LWS_SERVER_OPTION_VALIDATE_UTF8 : 0);
  info.foreign_loops = foreign;
  info.retry_and_idle_policy = &no_keepalive;
  info.max_http_header_data = 8192;
  info.timeout_secs = 10;
  info.vhost_name = "floor";
  struct lws_context *ctx = lws_create_context(&info);
  if (!ctx || !lws_get_vhost_by_name(ctx, "floor")) {
    fprintf(stderr, "msw-floor: cannot listen on port %d\n", port);
    if (ctx) lws_context_destroy(ctx);
    return 1;
  }

  ev_signal sigint, sigterm;
  ev_signal_init(&sigint, on_signal, SIGINT);
  ev_signal_init(&sigterm, on_signal, SIGTERM);
  ev_signal_start(loop, &sigint);
  ev_signal_start(loop, &sigterm);

  printf("msw-floor: listening on port %d (rx_buffer_size %zu, tx_packet_size %zu)\n", port,
         protocols[0].rx_buffer_size, protocols[0].tx_packet_size);
  fflush(stdout);
  ev_run(loop, 0);

  ev_signal_stop(loop, &sigint);
  ev_signal_stop(loop, &sigterm);
  lws_context_destroy(ctx);
  ev_loop_destroy(loop);
  return 0;
}
