/* Helpers shared by the addon's sockets (packet_socket.c, netlink_socket.c). */
#define NAPI_VERSION 8
#include <node_api.h>

#include <stdio.h>
#include <string.h>

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

