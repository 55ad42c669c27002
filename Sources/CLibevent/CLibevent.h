// libevent's headers use fd_set, struct timeval and socket types without including the
// glibc headers that declare them; include those first so Swift's module importer sees
// complete definitions (otherwise modules that import libcurl too fail on fd_set).
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <event2/util.h>
