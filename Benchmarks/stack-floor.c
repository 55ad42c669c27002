/*
 * stack-floor: a reference for the benchmark, not part of proxyd.
 *
 * The plainest proxy that can be built on proxyd's fixed stack: an evhttp server on one libevent
 * loop that hands every request to libcurl's multi-socket interface on the same loop and sends
 * the answer back. There is no routing, no policy, no accounting and no reasoning split: the
 * client's method, path, headers and body go up; the status, Content-Type and body come back.
 * A body whose length the upstream announces is sent back whole; any other body is streamed in
 * chunks as it arrives. Connections to the upstream are kept and reused by libcurl.
 *
 * The benchmark runs it beside proxyd and nginx, so that what evhttp, libcurl and the kernel cost
 * on their own can be told apart from what proxyd adds.
 *
 * Build: gcc -O2 -o stack-floor stack-floor.c $(pkg-config --cflags --libs libevent libcurl)
 * Run:   stack-floor --listen 127.0.0.1:PORT --upstream http://127.0.0.1:PORT
 */
#include <sys/types.h>
#include <sys/time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct transfer {
    CURL *easy;
    struct evhttp_request *req;
    struct curl_slist *headers;
    char *body;
    size_t body_capacity;
    struct evbuffer *out;
    char content_type[256];
    int whole;   /* the upstream announced a length: answer in one piece */
    int started; /* a streamed answer's head has gone out */
    struct transfer *next_idle;
};

static struct event_base *base;
static CURLM *multi;
static struct event *curl_timer;
static char upstream[512];
static size_t upstream_length;
static struct transfer *idle;

static void finish(struct transfer *t, CURLcode result);

static void collect_finished(void) {
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read(multi, &left)) != NULL) {
        if (message->msg != CURLMSG_DONE) continue;
        struct transfer *t = NULL;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode result = message->data.result;
        curl_multi_remove_handle(multi, message->easy_handle);
        finish(t, result);
    }
}

static void socket_ready(evutil_socket_t fd, short what, void *arg) {
    (void)arg;
    int running = 0;
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(multi, fd, action, &running);
    collect_finished();
}

static void timer_fired(evutil_socket_t fd, short what, void *arg) {
    (void)fd; (void)what; (void)arg;
    int running = 0;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_finished();
}

/* libcurl says which of its sockets to watch; one persistent event per socket. */
static int watch_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy; (void)userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev) {
            event_free(ev);
            curl_multi_assign(multi, s, NULL);
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (ev) {
        event_del(ev);
        event_assign(ev, base, s, kind, socket_ready, NULL);
    } else {
        ev = event_new(base, s, kind, socket_ready, NULL);
        curl_multi_assign(multi, s, ev);
    }
    event_add(ev, NULL);
    return 0;
}

static int set_timer(CURLM *m, long timeout_ms, void *userp) {
    (void)m; (void)userp;
    if (timeout_ms < 0) {
        event_del(curl_timer);
    } else {
        struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
        event_add(curl_timer, &tv);
    }
    return 0;
}

static int has_prefix(const char *line, size_t length, const char *name) {
    size_t n = strlen(name);
    return length > n && strncasecmp(line, name, n) == 0;
}

static size_t header_line(char *line, size_t size, size_t count, void *arg) {
    struct transfer *t = arg;
    size_t length = size * count;
    if (has_prefix(line, length, "content-length:")) {
        t->whole = 1;
    } else if (has_prefix(line, length, "content-type:")) {
        size_t start = strlen("content-type:"), end = length;
        while (start < end && (line[start] == ' ' || line[start] == '\t')) start++;
        while (end > start && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' ')) end--;
        if (end - start < sizeof t->content_type) {
            memcpy(t->content_type, line + start, end - start);
            t->content_type[end - start] = 0;
        }
    }
    return length;
}

static void start_head(struct transfer *t) {
    if (t->content_type[0])
        evhttp_add_header(evhttp_request_get_output_headers(t->req), "Content-Type", t->content_type);
}

static size_t body_bytes(char *bytes, size_t size, size_t count, void *arg) {
    struct transfer *t = arg;
    size_t length = size * count;
    evbuffer_add(t->out, bytes, length);
    if (t->whole) return length;
    if (!t->started) {
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        start_head(t);
        evhttp_send_reply_start(t->req, (int)status, NULL);
        t->started = 1;
    }
    evhttp_send_reply_chunk(t->req, t->out);
    return length;
}

/* The transfer's handle and buffers wait for the next request. */
static void give_back(struct transfer *t) {
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    t->req = NULL;
    t->next_idle = idle;
    idle = t;
}

static void finish(struct transfer *t, CURLcode result) {
    if (result != CURLE_OK && !t->started) {
        evhttp_send_error(t->req, 502, NULL);
    } else if (t->started) {
        evhttp_send_reply_end(t->req);
    } else {
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        start_head(t);
        evhttp_send_reply(t->req, (int)status, NULL, t->out);
    }
    give_back(t);
}

static struct transfer *take_transfer(void) {
    struct transfer *t = idle;
    if (t) {
        idle = t->next_idle;
        return t;
    }
    t = calloc(1, sizeof *t);
    t->easy = curl_easy_init();
    t->out = evbuffer_new();
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, body_bytes);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, header_line);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t->easy, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    return t;
}

static void on_request(struct evhttp_request *req, void *arg) {
    /* Streamed chunks go out at once, as proxyd's and nginx's do (evhttp leaves Nagle on). */
    int one = 1;
    setsockopt(bufferevent_getfd(evhttp_connection_get_bufferevent(evhttp_request_get_connection(req))),
               IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)arg;
    struct transfer *t = take_transfer();
    t->req = req;
    t->whole = 0;
    t->started = 0;
    t->content_type[0] = 0;
    evbuffer_drain(t->out, evbuffer_get_length(t->out));

    char url[4096];
    const char *uri = evhttp_request_get_uri(req);
    size_t uri_length = strlen(uri);
    if (upstream_length + uri_length >= sizeof url) {
        evhttp_send_error(req, 414, NULL);
        give_back(t);
        return;
    }
    memcpy(url, upstream, upstream_length);
    memcpy(url + upstream_length, uri, uri_length + 1);
    curl_easy_setopt(t->easy, CURLOPT_URL, url);

    struct evbuffer *input = evhttp_request_get_input_buffer(req);
    size_t length = evbuffer_get_length(input);
    curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST || length > 0) {
        if (length > t->body_capacity) {
            t->body = realloc(t->body, length);
            t->body_capacity = length;
        }
        evbuffer_remove(input, t->body, length);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body ? t->body : ""); /* an empty POST is still a POST */
    }
    /* Every request header goes up but the ones that describe this hop, which libcurl writes. */
    struct evkeyval *field;
    for (field = evhttp_request_get_input_headers(req)->tqh_first; field; field = field->next.tqe_next) {
        if (strcasecmp(field->key, "Host") == 0 || strcasecmp(field->key, "Content-Length") == 0 ||
            strcasecmp(field->key, "Connection") == 0 || strcasecmp(field->key, "Transfer-Encoding") == 0 ||
            strcasecmp(field->key, "Expect") == 0)
            continue;
        char line[2048];
        size_t k = strlen(field->key), v = strlen(field->value);
        if (k + v + 3 > sizeof line) continue;
        memcpy(line, field->key, k);
        line[k] = ':';
        line[k + 1] = ' ';
        memcpy(line + k + 2, field->value, v + 1);
        t->headers = curl_slist_append(t->headers, line);
    }
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_multi_add_handle(multi, t->easy);
}

static void on_signal(evutil_socket_t fd, short what, void *arg) {
    (void)fd; (void)what; (void)arg;
    event_base_loopexit(base, NULL);
}

int main(int argc, char **argv) {
    const char *listen = NULL, *up = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0) listen = argv[i + 1];
        else if (strcmp(argv[i], "--upstream") == 0) up = argv[i + 1];
    }
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || !up || strlen(up) >= sizeof upstream) {
        fprintf(stderr, "usage: stack-floor --listen HOST:PORT --upstream http://HOST:PORT\n");
        return 2;
    }
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    strcpy(upstream, up);
    upstream_length = strlen(upstream);

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    base = event_base_new();
    multi = curl_multi_init();
    curl_timer = event_new(base, -1, 0, timer_fired, NULL);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, set_timer);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 256L);

    struct evhttp *http = evhttp_new(base);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                     EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_HEAD);
    evhttp_set_default_content_type(http, NULL);
    evhttp_set_gencb(http, on_request, NULL);
    if (evhttp_bind_socket(http, host, (unsigned short)atoi(colon + 1)) != 0) {
        fprintf(stderr, "stack-floor: cannot listen on %s\n", listen);
        return 1;
    }
    struct event *term = evsignal_new(base, SIGTERM, on_signal, NULL);
    struct event *interrupt = evsignal_new(base, SIGINT, on_signal, NULL);
    event_add(term, NULL);
    event_add(interrupt, NULL);
    event_base_dispatch(base);
    return 0;
}
