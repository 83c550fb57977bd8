/*
 * An AF_NETLINK socket for Node (Node has none): open, send a message to the kernel, receive its replies through
 * the event loop, close. Only the transport is here; every message is built and parsed in TypeScript
 * (src/core/netlink). vipcheck uses it for the generic-netlink family IPVS (src/core/ipvs).
 *
 * The socket is non-blocking and watched by a libuv poll handle, like the packet socket: each datagram the kernel
 * sends (one or more netlink messages) is handed to JavaScript as a fresh Buffer. Deadlines are JavaScript's
 * timers; nothing here ever blocks the loop.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addon.h"

/* A dump reply datagram is at most a page or 8 KiB (NLMSG_GOODSIZE, or 32 KiB with large pages); 64 KiB fits any. */
#define RECEIVE_BUFFER_BYTES 65536
#define DATAGRAMS_PER_WAKEUP 64

typedef struct {
  AddonSocket base; /* first: the poll handle's data points at it */
  unsigned char buffer[RECEIVE_BUFFER_BYTES];
} NetlinkSocket;

/* The callbacks netlinkOpen() keeps, by index. */
enum { ON_MESSAGE, ON_ERROR, CALLBACK_COUNT };

static void report_error(NetlinkSocket *socket, const char *text) {
  addon_socket_fail(&socket->base, ON_ERROR, text);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  NetlinkSocket *socket = handle->data;
  if (socket->base.closed) return;
  napi_handle_scope scope;
  napi_open_handle_scope(socket->base.env, &scope);
  if (status < 0) addon_socket_poll_failed(&socket->base, ON_ERROR, status);
  for (int batch = 0; batch < DATAGRAMS_PER_WAKEUP && !socket->base.closed; batch++) {
    struct sockaddr_nl sender;
    struct iovec data_vector = {.iov_base = socket->buffer, .iov_len = sizeof socket->buffer};
    struct msghdr message = {.msg_name = &sender, .msg_namelen = sizeof sender, .msg_iov = &data_vector, .msg_iovlen = 1};
    ssize_t length = recvmsg(socket->base.fd, &message, MSG_DONTWAIT);
    if (length < 0) {
      if (errno == EINTR) continue;
      /* ENOBUFS: the kernel dropped replies (receive queue overrun); the request cannot complete. */
      if (errno != EAGAIN && errno != EWOULDBLOCK) report_error(socket, strerror(errno));
      break;
    }
    if (message.msg_flags & MSG_TRUNC) {
      report_error(socket, "a netlink reply was larger than the receive buffer");
      break;
    }
    if (sender.nl_pid != 0) continue; /* only the kernel talks to this socket */
    napi_value argument;
    void *data;
    if (napi_create_buffer_copy(socket->base.env, (size_t)length, socket->buffer, &data, &argument) != napi_ok) break;
    addon_socket_call(&socket->base, ON_MESSAGE, 1, &argument);
  }
  napi_close_handle_scope(socket->base.env, scope);
}

static void release_socket(AddonSocket *socket) {
  free(socket);
}

/* netlinkOpen(protocol, onMessage, onError) -> {handle, portId} */
static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t protocol;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_get_value_int32(env, argv[0], &protocol) != napi_ok)
    return addon_throw_error(env, "netlinkOpen() needs a protocol and two callbacks", 0);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  if (fd < 0) return addon_throw_error(env, "socket(AF_NETLINK)", errno);
  /* Error replies then carry the kernel's own reason text (NLMSGERR_ATTR_MSG) where it gives one. */
  int enable = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &enable, sizeof enable);
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  socklen_t local_length = sizeof local;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0 || getsockname(fd, (struct sockaddr *)&local, &local_length) != 0) {
    int saved = errno;
    close(fd);
    return addon_throw_error(env, "bind(AF_NETLINK)", saved);
  }
  NetlinkSocket *socket = calloc(1, sizeof *socket);
  if (!socket) {
    close(fd);
    return addon_throw_error(env, "out of memory", 0);
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok ||
      addon_socket_keep_callbacks(&socket->base, env, "vipcheck:netlink-socket", &argv[1], CALLBACK_COUNT) != 0) {
    close(fd);
    free(socket);
    return addon_throw_error(env, "cannot set up the socket's callbacks", 0);
  }
  addon_socket_start(&socket->base, loop, fd, on_readable, release_socket);
  napi_value handle, port_id, result;
  if (napi_create_external(env, socket, addon_socket_finalize, NULL, &handle) != napi_ok) {
    addon_socket_close(&socket->base);
    return addon_throw_error(env, "cannot create the socket handle", 0);
  }
  if (napi_create_object(env, &result) != napi_ok || napi_create_uint32(env, local.nl_pid, &port_id) != napi_ok ||
      napi_set_named_property(env, result, "handle", handle) != napi_ok ||
      napi_set_named_property(env, result, "portId", port_id) != napi_ok)
    return NULL;
  return result;
}

/* netlinkSend(handle, message): to the kernel (port 0). Throws with the system's reason. */
static napi_value send_message(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *data;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2)
    return addon_throw_error(env, "netlinkSend() needs a socket handle and a message", 0);
  NetlinkSocket *socket = addon_socket_from(env, argv[0]);
  if (!socket) return addon_throw_error(env, "netlinkSend() needs a socket handle", 0);
  if (socket->base.closed) return addon_throw_error(env, "the netlink socket is closed", 0);
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) return addon_throw_error(env, "the message must be a Buffer", 0);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  for (;;) {
    if (sendto(socket->base.fd, data, length, 0, (struct sockaddr *)&kernel, sizeof kernel) >= 0) return NULL;
    if (errno != EINTR) return addon_throw_error(env, "netlink send", errno);
  }
}

/* netlinkClose(handle): idempotent. */
static napi_value close_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NetlinkSocket *socket = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1) socket = addon_socket_from(env, argv[0]);
  if (!socket) return addon_throw_error(env, "netlinkClose() needs a socket handle", 0);
  addon_socket_close(&socket->base);
  return NULL;
}

napi_value netlink_define_properties(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"netlinkOpen", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL},
      {"netlinkSend", NULL, send_message, NULL, NULL, NULL, napi_default, NULL},
      {"netlinkClose", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}
