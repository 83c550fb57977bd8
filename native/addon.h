/* What the addon's source files share: error and callback helpers, and each file's exports. */
#ifndef VIPCHECK_ADDON_H
#define VIPCHECK_ADDON_H

#include <node_api.h>

/* Throws a JavaScript Error "what: strerror(error_number)" (just "what" when error_number is 0); returns NULL. */
napi_value addon_throw_error(napi_env env, const char *what, int error_number);

/* Calls a referenced JavaScript callback as a socket event would (microtasks run after it); an exception it
 * throws becomes the process's uncaught exception. */
void addon_call_js(napi_env env, napi_async_context async_context, napi_ref ref, size_t argc, const napi_value *argv);

/* netlink_socket.c: adds netlinkOpen, netlinkSend, netlinkClose to the exports. */
napi_value netlink_define_properties(napi_env env, napi_value exports);

#endif
