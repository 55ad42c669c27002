/*
 * stack-floor-raw: a reference for the benchmark, not part of proxyd.
 *
 * The plainest proxy on the stack proxyd's own front door stands on: a minimal HTTP/1.1 server on
 * raw libevent events, and libcurl's multi-socket interface for the upstream, both on one
 * libevent loop. Its upstream side is stack-floor.c's (a multi driver, one event per socket
 * libcurl names, CURLOPT_PRIVATE per transfer, easy handles reused); only the server differs:
 *
 * - a non-blocking listening socket (SO_REUSEADDR, no SO_REUSEPORT), drained with accept4;
 * - per connection one persistent read event and TCP_NODELAY; read() goes into one buffer for
 *   the whole loop, and only what a request does not use is held by the connection;
 * - a request is its head up to CRLFCRLF (method, target, version, fields) and a Content-Length
 *   body; chunked request bodies are refused, since the benchmark sends none;
 * - the answer is written with writev() straight away; what the socket does not take is queued,
 *   with a write event until it drains;
 * - keep-alive as HTTP/1.1 and 1.0 define it; requests on a connection are answered in order.
 *
 * There is no routing, no policy, no accounting and no reasoning split: the client's method,
 * path, headers and body go up; the status, Content-Type and body come back. A body whose length
 * the upstream announces is sent back whole with Content-Length; any other body is streamed back
 * in chunks as it arrives.
 *
 * The benchmark runs it beside proxyd, stack-floor (the same proxy on evhttp) and nginx, so that
 * what libevent, libcurl and the kernel cost on their own can be told apart from what proxyd adds.
 *
 * Build: gcc -O2 -o stack-floor-raw stack-floor-raw.c $(pkg-config --cflags --libs libevent libcurl)
 * Run:   stack-floor-raw --listen 127.0.0.1:PORT --upstream http://127.0.0.1:PORT
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <curl/curl.h>

enum {
    MAX_HEAD = 64 * 1024,   /* a longer head is refused with 431 */
    MAX_FIELDS = 100,
    MAX_TARGET = 8000,      /* a longer target is refused with 414 */
    MAX_HELD = 256 * 1024,  /* held bytes above which reading pauses while a request is answered */
    HEAD_ROOM = 1024,       /* room for a response head */
};
static const size_t max_body = (size_t)64 << 20;

struct conn;

struct transfer {
    CURL *easy;
    struct conn *conn;
    struct curl_slist *headers;
    char *body;             /* the request body, for CURLOPT_POSTFIELDS */
    size_t body_capacity;
    char *out;              /* a whole answer's body */
    size_t out_length, out_capacity;
    char content_type[256];
    int whole;              /* the upstream announced a length: answer in one piece */
    int started;            /* a streamed answer's head has gone out */
    int head_only;          /* a HEAD request */
    int odd_method;         /* the handle carries a custom method or NOBODY from an earlier request */
    struct transfer *next_idle;
};

struct conn {
    int fd;
    struct event *readable, *writable;
    char *held;             /* bytes read and not used yet */
    size_t held_length, held_capacity;
    char *queue;            /* bytes the socket has not taken, from queue_start */
    size_t queue_start, queue_length, queue_capacity;
    struct transfer *transfer; /* the request being answered, if any */
    int minor;              /* HTTP/1.minor of that request */
    int keep_alive;         /* its connection stays open after the answer */
    int closing;            /* close once the queue is written */
    int broken;             /* a write failed: the socket is dead */
    int write_armed, read_paused, continued;
};

struct field {
    const char *name, *value;
    size_t name_length, value_length;
};

struct request {
    const char *method, *target;
    size_t method_length, target_length;
    int minor, keep_alive, expect_continue;
    size_t head_length, body_length;
    int count;
    struct field fields[MAX_FIELDS];
};

static struct event_base *base;
static CURLM *multi;
static struct event *curl_timer, *accept_event, *accept_pause;
static char upstream[512];
static size_t upstream_length;
static struct transfer *idle;
static char read_buffer[64 * 1024]; /* every connection reads here; reads are never nested */
static char line_buffer[MAX_HEAD + 4];
static char date_line[64];
static size_t date_length;
static time_t date_second = -1;

/* ---- small helpers ---- */

static void reserve(char **buffer, size_t *capacity, size_t needed) {
    if (needed <= *capacity) return;
    size_t c = *capacity ? *capacity : 1024;
    while (c < needed) c *= 2;
    char *grown = realloc(*buffer, c);
    if (!grown) {
        fprintf(stderr, "stack-floor-raw: out of memory\n");
        abort();
    }
    *buffer = grown;
    *capacity = c;
}

static char *put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

#define PUT(p, literal) put((p), (literal), sizeof(literal) - 1)

static char *put_decimal(char *p, uint64_t v) {
    char digits[24];
    size_t n = 0;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *p++ = digits[--n];
    return p;
}

static char *put_hex(char *p, uint64_t v) {
    char digits[20];
    size_t n = 0;
    do { digits[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    while (n) *p++ = digits[--n];
    return p;
}

static int same(const char *a, size_t a_length, const char *literal) {
    size_t n = strlen(literal);
    return a_length == n && strncasecmp(a, literal, n) == 0;
}

/* ---- writing to the client ---- */

static void settle(struct conn *c);

/* Writes the parts in order: straight to the socket when nothing is queued; what the socket does
   not take is queued, with a write event until it drains. */
static void send_parts(struct conn *c, const struct iovec *parts, int count) {
    if (c->broken) return;
    size_t total = 0, written = 0;
    for (int i = 0; i < count; i++) total += parts[i].iov_len;
    if (c->queue_length == 0) {
        ssize_t n = writev(c->fd, parts, count);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                c->broken = 1;
                return;
            }
        } else {
            written = (size_t)n;
        }
    }
    if (written == total) return;
    if (c->queue_length == 0) c->queue_start = 0;
    reserve(&c->queue, &c->queue_capacity, c->queue_start + c->queue_length + (total - written));
    for (int i = 0; i < count; i++) {
        size_t n = parts[i].iov_len;
        if (written >= n) {
            written -= n;
            continue;
        }
        memcpy(c->queue + c->queue_start + c->queue_length, (const char *)parts[i].iov_base + written, n - written);
        c->queue_length += n - written;
        written = 0;
    }
    if (!c->write_armed) {
        event_add(c->writable, NULL);
        c->write_armed = 1;
    }
}

static void send_bytes(struct conn *c, const void *bytes, size_t length) {
    struct iovec part = { (void *)bytes, length };
    send_parts(c, &part, 1);
}

static void on_writable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct conn *c = arg;
    while (c->queue_length > 0) {
        ssize_t n = write(fd, c->queue + c->queue_start, c->queue_length);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            c->broken = 1;
            break;
        }
        c->queue_start += (size_t)n;
        c->queue_length -= (size_t)n;
    }
    c->queue_start = 0;
    event_del(c->writable);
    c->write_armed = 0;
    settle(c);
}

static const char *reason(long status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "";
    }
}

enum framing { FRAME_NONE, FRAME_LENGTH, FRAME_CHUNKED };

/* Writes a response head into `head` (HEAD_ROOM bytes); returns its length. The Date field is
   formatted once a second. */
static size_t write_head(char *head, struct conn *c, long status, const char *content_type,
                         enum framing framing, uint64_t length) {
    struct timeval now;
    event_base_gettimeofday_cached(base, &now);
    if (now.tv_sec != date_second) {
        struct tm tm;
        gmtime_r(&now.tv_sec, &tm);
        date_length = strftime(date_line, sizeof date_line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        date_second = now.tv_sec;
    }
    if (status < 100 || status > 999) status = 502;
    const char *text = reason(status);
    char *p = PUT(head, "HTTP/1.1 ");
    p = put_decimal(p, (uint64_t)status);
    *p++ = ' ';
    p = put(p, text, strlen(text));
    p = PUT(p, "\r\n");
    p = put(p, date_line, date_length);
    if (content_type && content_type[0]) {
        p = PUT(p, "Content-Type: ");
        p = put(p, content_type, strlen(content_type));
        p = PUT(p, "\r\n");
    }
    if (framing == FRAME_LENGTH) {
        p = PUT(p, "Content-Length: ");
        p = put_decimal(p, length);
        p = PUT(p, "\r\n");
    } else if (framing == FRAME_CHUNKED) {
        p = PUT(p, "Transfer-Encoding: chunked\r\n");
    }
    if (!c->keep_alive) p = PUT(p, "Connection: close\r\n");
    else if (c->minor == 0) p = PUT(p, "Connection: keep-alive\r\n");
    p = PUT(p, "\r\n");
    return (size_t)(p - head);
}

/* Answers a request that cannot be served with an empty body, and ends the connection. */
static void refuse(struct conn *c, long status) {
    char head[HEAD_ROOM];
    c->keep_alive = 0;
    c->minor = 1;
    send_bytes(c, head, write_head(head, c, status, NULL, FRAME_LENGTH, 0));
    c->closing = 1;
}

/* ---- the upstream side: libcurl's multi-socket interface on the loop ---- */

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
    if (length > 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* a status line: a new response begins (an interim one may have come before) */
        t->whole = 0;
        t->content_type[0] = 0;
    } else if (has_prefix(line, length, "content-length:")) {
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

static size_t body_bytes(char *bytes, size_t size, size_t count, void *arg) {
    struct transfer *t = arg;
    struct conn *c = t->conn;
    size_t length = size * count;
    if (length == 0 || t->head_only) return length;
    if (t->whole) {
        reserve(&t->out, &t->out_capacity, t->out_length + length);
        memcpy(t->out + t->out_length, bytes, length);
        t->out_length += length;
        return length;
    }
    if (c->broken) return 0; /* ends the transfer */
    char head[HEAD_ROOM], prefix[24];
    struct iovec parts[4];
    int n = 0;
    if (!t->started) {
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        /* HTTP/1.0 has no chunks: the body runs to the end of the connection */
        if (c->minor == 0) c->keep_alive = 0;
        size_t head_length = write_head(head, c, status, t->content_type, c->minor ? FRAME_CHUNKED : FRAME_NONE, 0);
        parts[n++] = (struct iovec){ head, head_length };
        t->started = 1;
    }
    if (c->minor == 0) {
        parts[n++] = (struct iovec){ bytes, length };
    } else {
        char *p = put_hex(prefix, length);
        p = PUT(p, "\r\n");
        parts[n++] = (struct iovec){ prefix, (size_t)(p - prefix) };
        parts[n++] = (struct iovec){ bytes, length };
        parts[n++] = (struct iovec){ "\r\n", 2 };
    }
    send_parts(c, parts, n);
    return c->broken ? 0 : length;
}

/* The transfer's handle and buffers wait for the next request. */
static void give_back(struct transfer *t) {
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    t->conn = NULL;
    t->next_idle = idle;
    idle = t;
}

static struct transfer *take_transfer(void) {
    struct transfer *t = idle;
    if (t) {
        idle = t->next_idle;
        return t;
    }
    t = calloc(1, sizeof *t);
    t->easy = curl_easy_init();
    reserve(&t->body, &t->body_capacity, 1); /* an empty POST still points at a body */
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

/* Sends a complete request up: method, target, headers and body. */
static void start_transfer(struct conn *c, const struct request *r, const char *body) {
    struct transfer *t = take_transfer();
    t->conn = c;
    c->transfer = t;
    c->minor = r->minor;
    c->keep_alive = r->keep_alive;
    t->whole = 0;
    t->started = 0;
    t->head_only = 0;
    t->content_type[0] = 0;
    t->out_length = 0;

    char url[sizeof upstream + MAX_TARGET + 1];
    memcpy(url, upstream, upstream_length);
    memcpy(url + upstream_length, r->target, r->target_length);
    url[upstream_length + r->target_length] = 0;
    curl_easy_setopt(t->easy, CURLOPT_URL, url);

    if (t->odd_method) {
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(t->easy, CURLOPT_NOBODY, 0L);
        t->odd_method = 0;
    }
    curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
    int is_get = same(r->method, r->method_length, "GET");
    int is_post = same(r->method, r->method_length, "POST");
    if (same(r->method, r->method_length, "HEAD")) {
        curl_easy_setopt(t->easy, CURLOPT_NOBODY, 1L);
        t->head_only = 1;
        t->odd_method = 1;
    } else if (!is_get || r->body_length > 0) {
        if (is_post || r->body_length > 0) {
            reserve(&t->body, &t->body_capacity, r->body_length);
            memcpy(t->body, body, r->body_length);
            curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_length);
            curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
        }
        if (!is_post) {
            char method[32];
            memcpy(method, r->method, r->method_length); /* at most 31 bytes, by the parser */
            method[r->method_length] = 0;
            curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, method);
            t->odd_method = 1;
        }
    }
    /* Every request header goes up but the ones that describe this hop, which libcurl writes. */
    for (int i = 0; i < r->count; i++) {
        const struct field *f = &r->fields[i];
        if (same(f->name, f->name_length, "Host") || same(f->name, f->name_length, "Content-Length") ||
            same(f->name, f->name_length, "Connection") || same(f->name, f->name_length, "Transfer-Encoding") ||
            same(f->name, f->name_length, "Expect"))
            continue;
        char *p = put(line_buffer, f->name, f->name_length);
        p = PUT(p, ": ");
        p = put(p, f->value, f->value_length);
        *p = 0;
        t->headers = curl_slist_append(t->headers, line_buffer);
    }
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_multi_add_handle(multi, t->easy);
}

/* ---- the server side ---- */

static void close_conn(struct conn *c) {
    if (c->transfer) {
        /* the client left while its answer was under way */
        curl_multi_remove_handle(multi, c->transfer->easy);
        give_back(c->transfer);
        c->transfer = NULL;
    }
    event_free(c->readable);
    event_free(c->writable);
    close(c->fd);
    free(c->held);
    free(c->queue);
    free(c);
}

/* Closes the connection once nothing more is owed on it. Never called from inside libcurl. */
static void settle(struct conn *c) {
    if (c->broken || (c->closing && c->queue_length == 0 && !c->transfer)) close_conn(c);
}

static unsigned char token_chars[256]; /* the bytes a method or a field name may hold */

static int is_token_char(unsigned char ch) {
    return token_chars[ch];
}

/* Whether the comma-separated list `v` holds `token` (case-insensitive). */
static int list_has(const char *v, size_t n, const char *token) {
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t start = i;
        while (i < n && v[i] != ',') i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
        if (same(v + start, end - start, token)) return 1;
    }
    return 0;
}

/* Reads a request head from p[0..n). Returns 1 when it is complete and sound, 0 when more bytes
   are needed, or the status to refuse the request with. */
static int parse_head(const char *p, size_t n, struct request *r) {
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end) return n > MAX_HEAD ? 431 : 0;
    r->head_length = (size_t)(end - p) + 4;
    if (r->head_length > MAX_HEAD) return 431;

    /* request line: METHOD SP target SP HTTP/1.x */
    const char *line_end = memchr(p, '\r', r->head_length);
    if (line_end[1] != '\n') return 400;
    const char *s = p;
    while (s < line_end && is_token_char((unsigned char)*s)) s++;
    if (s == p || s >= line_end || *s != ' ') return 400;
    r->method = p;
    r->method_length = (size_t)(s - p);
    if (r->method_length > 31) return 501;
    const char *target = ++s;
    while (s < line_end && (unsigned char)*s > 32 && *s != 127) s++;
    if (s == target || s >= line_end || *s != ' ' || *target != '/') return 400;
    r->target = target;
    r->target_length = (size_t)(s - target);
    if (r->target_length > MAX_TARGET) return 414;
    s++;
    if (line_end - s != 8 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1')) return 400;
    r->minor = s[7] - '0';

    /* fields */
    int close = 0, keep = 0, has_length = 0;
    r->count = 0;
    r->body_length = 0;
    r->expect_continue = 0;
    const char *at = line_end + 2, *head_end = end + 2;
    while (at < head_end) {
        const char *eol = memchr(at, '\r', (size_t)(head_end - at));
        if (!eol || eol[1] != '\n') return 400;
        const char *colon = at;
        while (colon < eol && is_token_char((unsigned char)*colon)) colon++;
        if (colon == at || colon == eol || *colon != ':') return 400; /* also folded lines */
        const char *v = colon + 1, *v_end = eol;
        while (v < v_end && (*v == ' ' || *v == '\t')) v++;
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t')) v_end--;
        if (r->count == MAX_FIELDS) return 431;
        struct field *f = &r->fields[r->count++];
        f->name = at;
        f->name_length = (size_t)(colon - at);
        f->value = v;
        f->value_length = (size_t)(v_end - v);
        if (same(f->name, f->name_length, "Content-Length")) {
            if (has_length || f->value_length == 0) return 400;
            size_t length = 0;
            for (const char *d = v; d < v_end; d++) {
                if (*d < '0' || *d > '9') return 400;
                if (length > max_body) return 413;
                length = length * 10 + (size_t)(*d - '0');
            }
            if (length > max_body) return 413;
            r->body_length = length;
            has_length = 1;
        } else if (same(f->name, f->name_length, "Transfer-Encoding")) {
            return 501; /* chunked request bodies: not needed by the benchmark */
        } else if (same(f->name, f->name_length, "Connection")) {
            close |= list_has(v, f->value_length, "close");
            keep |= list_has(v, f->value_length, "keep-alive");
        } else if (same(f->name, f->name_length, "Expect")) {
            if (!same(v, f->value_length, "100-continue")) return 417;
            r->expect_continue = 1;
        }
        at = eol + 2;
    }
    r->keep_alive = r->minor == 1 ? !close : (keep && !close);
    return 1;
}

/* Serves the request at the start of p[0..n), if it is all there; returns the bytes it used. */
static size_t serve(struct conn *c, const char *p, size_t n) {
    struct request r;
    int outcome = parse_head(p, n, &r);
    if (outcome == 0) return 0;
    if (outcome != 1) {
        refuse(c, outcome);
        return n;
    }
    if (n - r.head_length < r.body_length) {
        if (r.expect_continue && r.minor == 1 && !c->continued) {
            static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
            send_bytes(c, go_on, sizeof go_on - 1);
            c->continued = 1;
        }
        return 0;
    }
    c->continued = 0;
    start_transfer(c, &r, p + r.head_length);
    return r.head_length + r.body_length;
}

static void hold(struct conn *c, const char *bytes, size_t length) {
    reserve(&c->held, &c->held_capacity, c->held_length + length);
    memcpy(c->held + c->held_length, bytes, length);
    c->held_length += length;
}

static void serve_held(struct conn *c) {
    size_t used = serve(c, c->held, c->held_length);
    if (c->closing) {
        c->held_length = 0;
    } else if (used) {
        memmove(c->held, c->held + used, c->held_length - used);
        c->held_length -= used;
    }
}

static void finish(struct transfer *t, CURLcode result) {
    struct conn *c = t->conn;
    c->transfer = NULL;
    if (t->started) {
        if (result != CURLE_OK || c->minor == 0)
            c->closing = 1; /* a cut-off stream (or an HTTP/1.0 one) ends with the connection */
        else
            send_bytes(c, "0\r\n\r\n", 5);
    } else {
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        const char *content_type = t->content_type;
        enum framing framing = FRAME_LENGTH;
        uint64_t length = t->out_length;
        int body = !t->head_only;
        if (result != CURLE_OK) {
            status = 502;
            content_type = NULL;
            length = 0;
        } else if (status < 200 || status == 204 || status == 304) {
            framing = FRAME_NONE;
            body = 0;
        } else if (t->head_only) {
            curl_off_t announced = -1;
            curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
            if (announced >= 0) length = (uint64_t)announced;
            else framing = FRAME_NONE;
        }
        char head[HEAD_ROOM];
        struct iovec parts[2] = { { head, write_head(head, c, status, content_type, framing, length) },
                                  { t->out, (size_t)length } };
        send_parts(c, parts, body && length ? 2 : 1);
    }
    if (!c->keep_alive) c->closing = 1;
    give_back(t);
    if (!c->closing && !c->broken) {
        if (c->read_paused) {
            event_add(c->readable, NULL);
            c->read_paused = 0;
        }
        if (c->held_length) serve_held(c);
    }
    settle(c);
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct conn *c = arg;
    ssize_t n = read(fd, read_buffer, sizeof read_buffer);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        close_conn(c); /* the client left, or its socket failed */
        return;
    }
    if (c->closing) return; /* the connection ends after the answer: what follows is dropped */
    if (!c->transfer && c->held_length == 0) {
        /* the usual case: serve straight from the read buffer, hold only what is left */
        size_t used = serve(c, read_buffer, (size_t)n);
        if (used < (size_t)n && !c->closing) hold(c, read_buffer + used, (size_t)n - used);
    } else {
        hold(c, read_buffer, (size_t)n);
        if (!c->transfer) {
            serve_held(c);
        } else if (c->held_length > MAX_HELD) {
            event_del(c->readable);
            c->read_paused = 1;
        }
    }
    settle(c);
}

static void on_accept(evutil_socket_t listener, short what, void *arg) {
    (void)what; (void)arg;
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: stop accepting for a moment rather than spin */
                struct timeval pause = { 0, 100 * 1000 };
                event_del(accept_event);
                event_add(accept_pause, &pause);
            }
            return; /* EAGAIN: none left */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        c->fd = fd;
        c->readable = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, c);
        c->writable = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
        event_add(c->readable, NULL);
    }
}

static void resume_accepting(evutil_socket_t fd, short what, void *arg) {
    (void)fd; (void)what; (void)arg;
    event_add(accept_event, NULL);
}

static int open_listener(const char *host, const char *port) {
    struct addrinfo hints, *list, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &list) != 0) return -1;
    int fd = -1;
    for (ai = list; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    return fd;
}

static void on_signal(evutil_socket_t fd, short what, void *arg) {
    (void)fd; (void)what; (void)arg;
    event_base_loopexit(base, NULL);
}

int main(int argc, char **argv) {
    const char *listen_at = NULL, *up = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0) listen_at = argv[i + 1];
        else if (strcmp(argv[i], "--upstream") == 0) up = argv[i + 1];
    }
    const char *colon = listen_at ? strrchr(listen_at, ':') : NULL;
    if (!colon || !up || strlen(up) >= sizeof upstream) {
        fprintf(stderr, "usage: stack-floor-raw --listen HOST:PORT --upstream http://HOST:PORT\n");
        return 2;
    }
    char host[256];
    const char *h = listen_at;
    size_t host_length = (size_t)(colon - listen_at);
    if (host_length >= 2 && h[0] == '[' && h[host_length - 1] == ']') { h++; host_length -= 2; }
    snprintf(host, sizeof host, "%.*s", (int)host_length, h);
    strcpy(upstream, up);
    upstream_length = strlen(upstream);
    while (upstream_length > 0 && upstream[upstream_length - 1] == '/') upstream[--upstream_length] = 0;

    for (int ch = 33; ch < 127; ch++) token_chars[ch] = !strchr("\"(),/:;<=>?@[\\]{}", ch);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    base = event_base_new();
    multi = curl_multi_init();
    curl_timer = event_new(base, -1, 0, timer_fired, NULL);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, set_timer);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 256L);

    int listener = open_listener(host, colon + 1);
    if (listener < 0) {
        fprintf(stderr, "stack-floor-raw: cannot listen on %s\n", listen_at);
        return 1;
    }
    accept_event = event_new(base, listener, EV_READ | EV_PERSIST, on_accept, NULL);
    accept_pause = event_new(base, -1, 0, resume_accepting, NULL);
    event_add(accept_event, NULL);
    struct event *term = evsignal_new(base, SIGTERM, on_signal, NULL);
    struct event *interrupt = evsignal_new(base, SIGINT, on_signal, NULL);
    event_add(term, NULL);
    event_add(interrupt, NULL);
    event_base_dispatch(base);
    return 0;
}
