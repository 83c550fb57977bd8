/* Helpers shared by the addon's sockets (packet_socket.c, netlink_socket.c). */
#define NAPI_VERSION 8
#include <node_api.h>

#include <stdio.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"

napi_value addon_throw_error(napi_env env, const char *what, int error_number) {
  char message[512];
  if (error_number)
    snprintf(message, sizeof message, "%s: %s", what, strerror(error_number));
  else
    snprintf(message, sizeof message, "%s", what);
  napi_throw_error(env, NULL, message);
  return NULL;
}

void addon_call_js(napi_env env, napi_async_context async_context, napi_ref ref, size_t argc, const napi_value *argv) {
  napi_value callback, global, result;
  if (napi_get_reference_value(env, ref, &callback) != napi_ok || callback == NULL) return;
  napi_get_global(env, &global);
  /* make_callback, not call_function: it runs the microtasks the callback queued, as a socket event would. */
  if (napi_make_callback(env, async_context, global, callback, argc, argv, &result) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}


void addon_socket_start(AddonSocket *socket, uv_loop_t *loop, int fd, uv_poll_cb on_readable, void (*release)(AddonSocket *)) {
  socket->fd = fd;
  socket->release = release;
  uv_poll_init(loop, &socket->poll, fd);
  socket->poll.data = socket;
  uv_poll_start(&socket->poll, UV_READABLE, on_readable);
}

static void on_poll_closed(uv_handle_t *handle) {
  AddonSocket *socket = handle->data;
  socket->poll_closed = 1;
  if (socket->finalized) socket->release(socket);
}

void addon_socket_stop(AddonSocket *socket) {
  if (socket->closed) return;
  socket->closed = 1;
  uv_poll_stop(&socket->poll);
  close(socket->fd);
  socket->fd = -1;
  uv_close((uv_handle_t *)&socket->poll, on_poll_closed);
}

void addon_socket_finalize(napi_env env, void *data, void *hint) {
  AddonSocket *socket = data;
  socket->finalized = 1;
  if (!socket->closed)
    addon_socket_stop(socket); /* on_poll_closed releases it; its callback references leak (a socket dropped unclosed) */
  else if (socket->poll_closed)
    socket->release(socket);
}

void *addon_socket_from(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  return data;
}

int addon_socket_keep_callbacks(AddonSocket *socket, napi_env env, const char *resource_name, const napi_value *callbacks, size_t count) {
  napi_value name;
  socket->env = env;
  size_t kept = 0;
  while (kept < count && count <= ADDON_MAX_CALLBACKS && napi_create_reference(env, callbacks[kept], 1, &socket->callbacks[kept]) == napi_ok) kept++;
  if (kept == count && napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name) == napi_ok &&
      napi_async_init(env, NULL, name, &socket->async_context) == napi_ok) {
    socket->callback_count = count;
    return 0;
  }
  while (kept > 0) napi_delete_reference(env, socket->callbacks[--kept]);
  return -1;
}

void addon_socket_call(AddonSocket *socket, size_t index, size_t argc, const napi_value *argv) {
  if (index < socket->callback_count) addon_call_js(socket->env, socket->async_context, socket->callbacks[index], argc, argv);
}

void addon_socket_close(AddonSocket *socket) {
  if (socket->closed) return;
  addon_socket_stop(socket);
  for (size_t i = 0; i < socket->callback_count; i++) napi_delete_reference(socket->env, socket->callbacks[i]);
  socket->callback_count = 0;
  napi_async_destroy(socket->env, socket->async_context);
}

void addon_socket_fail(AddonSocket *socket, size_t index, const char *text) {
  napi_value message;
  if (napi_create_string_utf8(socket->env, text, NAPI_AUTO_LENGTH, &message) == napi_ok) addon_socket_call(socket, index, 1, &message);
  addon_socket_close(socket);
}

void addon_socket_poll_failed(AddonSocket *socket, size_t index, int status) {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(socket->fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error != 0)
    addon_socket_fail(socket, index, strerror(error));
  else
    addon_socket_fail(socket, index, uv_strerror(status));
}
