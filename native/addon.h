/* What the addon's source files share: error and callback helpers, and each file's exports. */
#ifndef VIPCHECK_ADDON_H
#define VIPCHECK_ADDON_H

#include <node_api.h>
#include <uv.h>

/*
 * What every socket object of the addon starts with. Lifetime: JavaScript holds the object through an external
 * value; `release` frees it only when both the poll handle is closed (libuv is done with it) and the external has
 * been garbage collected (JavaScript can no longer pass it to send() or close()), whichever comes last.
 */
#define ADDON_MAX_CALLBACKS 4

typedef struct AddonSocket {
  int fd;
  int closed;
  int poll_closed;
  int finalized;
  uv_poll_t poll;
  void (*release)(struct AddonSocket *socket);
  napi_env env;
  /* JavaScript's callbacks, by the index each socket kind gives them, and the async context they run in. */
  napi_ref callbacks[ADDON_MAX_CALLBACKS];
  size_t callback_count;
  napi_async_context async_context;
} AddonSocket;

/* Keeps references to `count` callbacks and an async context named `resource_name`: 0, or -1 with nothing kept. */
int addon_socket_keep_callbacks(AddonSocket *socket, napi_env env, const char *resource_name, const napi_value *callbacks, size_t count);

/* Calls callback `index` as a socket event would (see addon_call_js). */
void addon_socket_call(AddonSocket *socket, size_t index, size_t argc, const napi_value *argv);

/* Hands an error text to callback `index` (which may close the socket itself), then closes the socket. */
void addon_socket_fail(AddonSocket *socket, size_t index, const char *text);

/* The same for a poll error: libuv reports a socket error (POLLERR) as UV_EBADF, the socket knows the real one
 * (ENODEV, ENETDOWN, ENOBUFS). */
void addon_socket_poll_failed(AddonSocket *socket, size_t index, int status);

/* addon_socket_stop, and releases the JavaScript callbacks (not from a finalizer, which may not call into JS). */
void addon_socket_close(AddonSocket *socket);

/* Starts watching `fd` for reading; the poll handle's data is the socket. */
void addon_socket_start(AddonSocket *socket, uv_loop_t *loop, int fd, uv_poll_cb on_readable, void (*release)(AddonSocket *));

/* Stops reading and closes the descriptor; the poll handle is released by libuv on the next loop turn. Idempotent. */
void addon_socket_stop(AddonSocket *socket);

/* The external's finalizer: the object is released now or once its poll handle is closed. */
void addon_socket_finalize(napi_env env, void *data, void *hint);

/* Throws a JavaScript Error "what: strerror(error_number)" (just "what" when error_number is 0); returns NULL. */
napi_value addon_throw_error(napi_env env, const char *what, int error_number);

/* Calls a referenced JavaScript callback as a socket event would (microtasks run after it); an exception it
 * throws becomes the process's uncaught exception. */
void addon_call_js(napi_env env, napi_async_context async_context, napi_ref ref, size_t argc, const napi_value *argv);

/* The socket object behind a JavaScript handle, or NULL when the value is not one. */
void *addon_socket_from(napi_env env, napi_value value);

/* netlink_socket.c: adds netlinkOpen, netlinkSend, netlinkClose to the exports. */
napi_value netlink_define_properties(napi_env env, napi_value exports);

#endif
