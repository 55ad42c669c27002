#ifndef CPROXYSHIM_H
#define CPROXYSHIM_H
// Fixed-arity wrappers for the variadic libcurl calls Swift cannot make.
// One prefixed name per wrapped call; each forwards its arguments unchanged.
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <curl/curl.h>

typedef int (*cproxy_socket_cb)(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
typedef int (*cproxy_timer_cb)(CURLM *multi, long timeout_ms, void *userp);
typedef size_t (*cproxy_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);

/// curl_easy_setopt with a long argument.
CURLcode cproxy_easy_setopt_long(CURL *easy, CURLoption option, long value);
/// curl_easy_setopt with a pointer argument (strings, slists, user data).
CURLcode cproxy_easy_setopt_ptr(CURL *easy, CURLoption option, const void *value);
/// curl_easy_setopt with a curl_off_t argument.
CURLcode cproxy_easy_setopt_off(CURL *easy, CURLoption option, curl_off_t value);
/// curl_easy_setopt for CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION.
CURLcode cproxy_easy_setopt_data_cb(CURL *easy, CURLoption option, cproxy_data_cb cb);
/// curl_easy_setopt for CURLOPT_OPENSOCKETFUNCTION.
CURLcode cproxy_easy_setopt_opensocket_cb(CURL *easy, curl_opensocket_callback cb);
/// curl_easy_setopt for CURLOPT_CLOSESOCKETFUNCTION.
CURLcode cproxy_easy_setopt_closesocket_cb(CURL *easy, curl_closesocket_callback cb);
/// curl_easy_getinfo for a long result.
CURLcode cproxy_easy_getinfo_long(CURL *easy, CURLINFO info, long *out);
/// curl_easy_getinfo for a pointer result (CURLINFO_PRIVATE).
CURLcode cproxy_easy_getinfo_ptr(CURL *easy, CURLINFO info, void **out);
/// curl_multi_setopt with a long argument.
CURLMcode cproxy_multi_setopt_long(CURLM *multi, CURLMoption option, long value);
/// curl_multi_setopt with a pointer argument.
CURLMcode cproxy_multi_setopt_ptr(CURLM *multi, CURLMoption option, void *value);
/// curl_multi_setopt for CURLMOPT_SOCKETFUNCTION.
CURLMcode cproxy_multi_setopt_socket_cb(CURLM *multi, cproxy_socket_cb cb);
/// curl_multi_setopt for CURLMOPT_TIMERFUNCTION.
CURLMcode cproxy_multi_setopt_timer_cb(CURLM *multi, cproxy_timer_cb cb);

// evhttp frames each chunk of a chunked reply with evbuffer_add_printf ("%x\r\n"), which costs
// a glibc vsnprintf per chunk. proxyd frames chunks itself; these two calls read the reply's
// chunked flag and send an already framed chunk (evhttp's request struct is only visible in C).
struct evhttp_request;
struct evhttp_connection;
struct evbuffer;
/// Whether evhttp chose chunked framing for the reply started on `req`.
int cproxy_evhttp_reply_is_chunked(struct evhttp_request *req);
/// evhttp_send_reply_chunk_with_cb for bytes that already carry their chunk framing (or that
/// need none: the reply is not chunked).
void cproxy_evhttp_send_framed_chunk(struct evhttp_request *req, struct evbuffer *framed,
                                     void (*cb)(struct evhttp_connection *, void *), void *arg);

#endif
