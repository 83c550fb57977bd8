/*
 * A Linux AF_PACKET socket for Node, without a memory-mapped ring.
 *
 * Why this exists instead of libpcap's capture (measured, docs/benchmarks.md): every check is a new process,
 * and libpcap (>= 1.9, Linux) always sets up a TPACKET ring. setsockopt(PACKET_RX_RING) waits for an RCU grace
 * period (synchronize_net, 10-20 ms), and tearing the ring down at exit waits again before the socket release
 * does. A plain packet socket opened as below waits for none at open and for one at release. Health checks
 * exchange a handful of frames, so the ring's throughput buys nothing.
 *
 * The kernel filter is a classic BPF program compiled by src/core/link/bpf.ts from validated values; the
 * kernel's own checker verifies it when it is attached.
 *
 * Order of the open matters:
 * - socket(AF_PACKET, SOCK_RAW, 0): protocol 0 receives nothing yet, so no frame arrives unfiltered;
 * - the filter is attached before bind() starts delivery;
 * - bind() with ETH_P_ALL on the interface registers the receive hook. Creating the socket with ETH_P_ALL
 *   instead would make bind() unregister a running hook, which waits for a grace period.
 *
 * Frames are read in the poll callback (up to MAX_FRAMES_PER_WAKEUP at a time) and handed to JavaScript one by
 * one as fresh Buffers (the callback owns them), each with the kernel's tp_status for it (PACKET_AUXDATA): whether
 * its checksum is still to be finished (TP_STATUS_CSUMNOTREADY: veth, locally sent) or was verified by the
 * device (TP_STATUS_CSUM_VALID). JavaScript verifies every other frame's checksums itself (frame-integrity.ts). Frames this socket sends are not looped back to it by the
 * kernel. The socket also serves vipcheck's source-port reservations (reservePort), a plain TCP listener.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include "addon.h"
#include "bulk_receive.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Lifetime: AddonSocket's (addon.h). */
typedef struct {
  AddonSocket base; /* first: the poll handle's data points at it */
  int watching_writable;
  unsigned char *buffer;
  size_t buffer_length;
  int frames_per_wakeup;
  /* The bulk receive offload's flows (bulk_receive.c); NULL until JavaScript arms the first. */
  BulkTable *bulk;
  /* The payloads it took in this readable event, per slot, as Buffers (valid in the event's handle scope). */
  napi_value *bulk_chunks;
  int bulk_chunk_count[BULK_MAX_FLOWS];
} PacketSocket;

#define CHECK(call)                                   \
  do {                                                \
    if ((call) != napi_ok) return NULL;               \
  } while (0)

/* The callbacks open() keeps, by index. */
enum { ON_FRAME, ON_ERROR, ON_WRITABLE, ON_BULK, CALLBACK_COUNT };


/* Hands an error to JavaScript (which may close the socket itself), then stops reading. */
static void report_error(PacketSocket *socket, const char *text) {
  addon_socket_fail(&socket->base, ON_ERROR, text);
}

/*
 * The tp_status the kernel attached to a received frame, or 0 (nothing known: verify everything) when it
 * attached none. 0 is the safe default: it only costs JavaScript a checksum computation.
 */
static uint32_t auxiliary_status(struct msghdr *message) {
  for (struct cmsghdr *header = CMSG_FIRSTHDR(message); header != NULL; header = CMSG_NXTHDR(message, header)) {
    if (header->cmsg_level == SOL_PACKET && header->cmsg_type == PACKET_AUXDATA &&
        header->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata))) {
      struct tpacket_auxdata auxiliary;
      memcpy(&auxiliary, CMSG_DATA(header), sizeof auxiliary);
      return auxiliary.tp_status;
    }
  }
  return 0;
}

/* Frames handed to JavaScript per readable event before returning to the event loop, unless open() says. */
#define MAX_FRAMES_PER_WAKEUP 256
/* Frames the bulk receive offload may take per readable event on top: each costs a copy and at most one ACK, no
 * JavaScript, but a stream of them must still let timers run. */
#define MAX_BULK_FRAMES_PER_WAKEUP 64

/*
 * Keeps the payload of a frame the offload took, as a Buffer of its own: one per frame keeps each allocation below
 * malloc's mmap threshold, so it reuses warm memory (one buffer per hand-off was fresh pages every time, measured
 * at 0.3-0.6 ms of page faults per MiB). 0, or -1 when out of memory.
 */
static int keep_bulk_payload(PacketSocket *socket, int slot, const unsigned char *payload, size_t length) {
  if (!socket->bulk_chunks && !(socket->bulk_chunks = calloc(BULK_MAX_FLOWS * MAX_BULK_FRAMES_PER_WAKEUP, sizeof(napi_value)))) return -1;
  void *copy;
  napi_value buffer;
  if (napi_create_buffer_copy(socket->base.env, length, payload, &copy, &buffer) != napi_ok) return -1;
  socket->bulk_chunks[slot * MAX_BULK_FRAMES_PER_WAKEUP + socket->bulk_chunk_count[slot]++] = buffer;
  return 0;
}

/*
 * Hands every armed flow's data to JavaScript: onBulk(slot, chunks, firstSeq, lastAckSent, tsRecent, frames,
 * acks). Runs before any other frame reaches JavaScript and at the end of each batch, so a flow's data always
 * arrives in order with its other segments.
 */
static void hand_off_bulk(PacketSocket *socket) {
  if (!bulk_pending(socket->bulk)) return;
  BulkHandoff handoffs[BULK_MAX_FLOWS];
  int count = bulk_handoff_all(socket->bulk, handoffs);
  napi_env env = socket->base.env;
  napi_value chunks[BULK_MAX_FLOWS];
  /* Every slot's chunks are gathered before any JavaScript runs, which may arm, pause or release slots. */
  for (int i = 0; i < count; i++) {
    int slot = handoffs[i].slot;
    int kept = socket->bulk_chunk_count[slot];
    socket->bulk_chunk_count[slot] = 0;
    if (napi_create_array_with_length(env, (size_t)kept, &chunks[i]) != napi_ok) chunks[i] = NULL;
    for (int k = 0; chunks[i] && k < kept; k++) napi_set_element(env, chunks[i], (uint32_t)k, socket->bulk_chunks[slot * MAX_BULK_FRAMES_PER_WAKEUP + k]);
  }
  for (int i = 0; i < count; i++) {
    BulkHandoff *h = &handoffs[i];
    napi_value arguments[7];
    if (socket->base.closed || !chunks[i]) continue;
    arguments[1] = chunks[i];
    napi_create_int32(env, h->slot, &arguments[0]);
    napi_create_uint32(env, h->first_seq, &arguments[2]);
    napi_create_uint32(env, h->last_ack_sent, &arguments[3]);
    napi_create_uint32(env, h->ts_recent, &arguments[4]);
    napi_create_uint32(env, h->frames, &arguments[5]);
    napi_create_uint32(env, h->acks, &arguments[6]);
    addon_socket_call(&socket->base, ON_BULK, 7, arguments);
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  PacketSocket *socket = handle->data;
  if (socket->base.closed) return;
  napi_handle_scope scope;
  napi_open_handle_scope(socket->base.env, &scope);
  if (status < 0) {
    addon_socket_poll_failed(&socket->base, ON_ERROR, status);
  } else {
    if ((events & UV_WRITABLE) && socket->watching_writable) {
      /* The send queue has room again: stop watching (level-triggered, it would fire on every turn) and tell JS. */
      socket->watching_writable = 0;
      uv_poll_start(&socket->base.poll, UV_READABLE, on_readable);
      napi_value nothing;
      napi_get_undefined(socket->base.env, &nothing);
      addon_socket_call(&socket->base, ON_WRITABLE, 1, &nothing);
    }
    /* Level-triggered: frames left after a batch make the poll fire again on the next loop turn, so a busy
     * segment (a promiscuous passive audit) cannot starve timers and the deadline. */
    int bulk_frames = 0;
    for (int batch = 0; batch < socket->frames_per_wakeup && !socket->base.closed; batch++) {
      struct iovec data_vector = {.iov_base = socket->buffer, .iov_len = socket->buffer_length};
      union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
      } control;
      struct msghdr message = {
          .msg_iov = &data_vector,
          .msg_iovlen = 1,
          .msg_control = &control,
          .msg_controllen = sizeof control,
      };
      ssize_t length = recvmsg(socket->base.fd, &message, MSG_DONTWAIT | MSG_TRUNC);
      if (length < 0) {
        if (errno == EINTR) continue;
        /* The interface went down or away (ENETDOWN, ENXIO): report it once and stop reading. */
        if (errno != EAGAIN && errno != EWOULDBLOCK) report_error(socket, strerror(errno));
        break;
      }
      /* MSG_TRUNC returns the frame's real length; keep what fits (the snap length, like a capture). */
      size_t kept = (size_t)length < socket->buffer_length ? (size_t)length : socket->buffer_length;
      uint32_t status = auxiliary_status(&message);
      size_t payload_offset, payload_length;
      int slot = kept == (size_t)length && bulk_frames < MAX_BULK_FRAMES_PER_WAKEUP
                     ? bulk_take(socket->bulk, socket->base.fd, socket->buffer, kept, status, &payload_offset, &payload_length)
                     : -1;
      if (slot >= 0) {
        /* Acknowledged already: losing it now would lose data the server will not send again. */
        if (keep_bulk_payload(socket, slot, socket->buffer + payload_offset, payload_length) != 0) {
          report_error(socket, "out of memory for received data");
          break;
        }
        bulk_frames++;
        batch--; /* counted against its own budget */
        continue;
      }
      hand_off_bulk(socket);
      if (socket->base.closed) break;
      napi_value arguments[2];
      void *data;
      if (napi_create_buffer_copy(socket->base.env, kept, socket->buffer, &data, &arguments[0]) != napi_ok) break;
      if (napi_create_uint32(socket->base.env, status, &arguments[1]) != napi_ok) break;
      addon_socket_call(&socket->base, ON_FRAME, 2, arguments);
    }
    hand_off_bulk(socket);
  }
  napi_close_handle_scope(socket->base.env, scope);
}

/* Called once libuv and JavaScript are both done with it. */
static void release_socket(AddonSocket *base) {
  PacketSocket *socket = (PacketSocket *)base;
  bulk_table_free(socket->bulk);
  free(socket->bulk_chunks);
  free(socket->buffer);
  free(socket);
}

static int attach_filter(int fd, void *program, size_t length, char *error, size_t error_size) {
  if (length == 0 || length % sizeof(struct sock_filter) != 0 || length / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    snprintf(error, error_size, "bad capture filter: %zu bytes is not a program", length);
    return -1;
  }
  struct sock_fprog kernel_program = {
      .len = (unsigned short)(length / sizeof(struct sock_filter)),
      .filter = (struct sock_filter *)program,
  };
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &kernel_program, sizeof kernel_program) != 0) {
    /* The kernel's checker refuses a malformed program with EINVAL. */
    snprintf(error, error_size, "bad capture filter: %s", strerror(errno));
    return -1;
  }
  return 0;
}

/*
 * open(interface, program, snapLength, receiveBufferBytes, promiscuous, onFrame, onError, onWritable, onBulk
 *      [, framesPerWakeup]) -> handle
 */
static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) return addon_throw_error(env, "open() needs 9 arguments", 0);
  char name[IF_NAMESIZE + 1];
  size_t name_length;
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_length));
  void *filter;
  size_t filter_length;
  if (napi_get_buffer_info(env, argv[1], &filter, &filter_length) != napi_ok)
    return addon_throw_error(env, "the filter must be a Buffer holding a compiled program", 0);
  int32_t snap_length, receive_buffer;
  bool promiscuous;
  CHECK(napi_get_value_int32(env, argv[2], &snap_length));
  CHECK(napi_get_value_int32(env, argv[3], &receive_buffer));
  CHECK(napi_get_value_bool(env, argv[4], &promiscuous));
  if (snap_length < 64) snap_length = 64;

  char error[256];
  int fd = -1;
  unsigned int index = if_nametoindex(name);
  if (name_length == 0 || name_length > IF_NAMESIZE - 1 || index == 0) {
    return addon_throw_error(env, "No such device", ENODEV);
  }
  fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return addon_throw_error(env, "socket(AF_PACKET)", errno);
  }
  struct ifreq request;
  memset(&request, 0, sizeof request);
  memcpy(request.ifr_name, name, name_length);
  if (ioctl(fd, SIOCGIFHWADDR, &request) != 0) {
    snprintf(error, sizeof error, "SIOCGIFHWADDR: %s", strerror(errno));
    goto fail;
  }
  int hardware_type = request.ifr_hwaddr.sa_family;
  if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) {
    snprintf(error, sizeof error, "SIOCGIFFLAGS: %s", strerror(errno));
    goto fail;
  }
  if (!(request.ifr_flags & IFF_UP)) {
    snprintf(error, sizeof error, "interface is not up");
    goto fail;
  }
  /* Root gets the size asked for; without CAP_NET_ADMIN the kernel caps it at net.core.rmem_max. */
  if (receive_buffer > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  /* Every frame then comes with its tpacket_auxdata (the checksum status above). */
  int enable = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &enable, sizeof enable) != 0) {
    snprintf(error, sizeof error, "PACKET_AUXDATA: %s", strerror(errno));
    goto fail;
  }
  if (attach_filter(fd, filter, filter_length, error, sizeof error) != 0) goto fail;
  struct sockaddr_ll address;
  memset(&address, 0, sizeof address);
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = (int)index;
  if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    snprintf(error, sizeof error, "bind: %s", strerror(errno));
    goto fail;
  }
  if (promiscuous) {
    struct packet_mreq membership;
    memset(&membership, 0, sizeof membership);
    membership.mr_ifindex = (int)index;
    membership.mr_type = PACKET_MR_PROMISC;
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &membership, sizeof membership) != 0) {
      snprintf(error, sizeof error, "promiscuous mode: %s", strerror(errno));
      goto fail;
    }
  }

  PacketSocket *socket = calloc(1, sizeof *socket);
  unsigned char *buffer = malloc((size_t)snap_length);
  if (!socket || !buffer) {
    free(socket);
    free(buffer);
    close(fd);
    return addon_throw_error(env, "out of memory", 0);
  }
  socket->buffer = buffer;
  socket->buffer_length = (size_t)snap_length;
  int32_t frames_per_wakeup = MAX_FRAMES_PER_WAKEUP;
  napi_valuetype batch_type = napi_undefined;
  if (argc >= 10) napi_typeof(env, argv[9], &batch_type);
  if (batch_type == napi_number) napi_get_value_int32(env, argv[9], &frames_per_wakeup);
  socket->frames_per_wakeup = frames_per_wakeup < 1 ? 1 : frames_per_wakeup > MAX_FRAMES_PER_WAKEUP ? MAX_FRAMES_PER_WAKEUP : frames_per_wakeup;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok ||
      addon_socket_keep_callbacks(&socket->base, env, "vipcheck:packet-socket", &argv[5], CALLBACK_COUNT) != 0) {
    close(fd);
    free(buffer);
    free(socket);
    return addon_throw_error(env, "cannot set up the socket's callbacks", 0);
  }
  addon_socket_start(&socket->base, loop, fd, on_readable, release_socket);

  napi_value handle, type_value;
  if (napi_create_external(env, socket, addon_socket_finalize, NULL, &handle) != napi_ok) {
    addon_socket_close(&socket->base);
    return addon_throw_error(env, "cannot create the socket handle", 0);
  }
  napi_value result;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "handle", handle));
  CHECK(napi_create_int32(env, hardware_type, &type_value));
  CHECK(napi_set_named_property(env, result, "hardwareType", type_value));
  return result;

fail:
  if (fd >= 0) close(fd);
  return addon_throw_error(env, error, 0);
}

/*
 * The socket a call names in its first argument, with the call's `count` arguments in argv; NULL (with `usage`
 * thrown) when there are not exactly that many or the first is not a socket, or (`must_be_open`) it is closed.
 */
static PacketSocket *socket_argument(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage, int must_be_open) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  PacketSocket *socket = argc == count ? addon_socket_from(env, argv[0]) : NULL;
  if (!socket) {
    addon_throw_error(env, usage, 0);
    return NULL;
  }
  if (must_be_open && socket->base.closed) {
    addon_throw_error(env, "the socket is closed", 0);
    return NULL;
  }
  return socket;
}

/*
 * send(handle, frame) -> 0 sent, 1 the socket's send buffer is full (EAGAIN: watchWritable() tells when it has
 * room), 2 the device queue is full (ENOBUFS: retry a little later; poll would say writable at once). Neither is
 * a failure of the flow: the caller keeps the frame. Any other error throws.
 */
static napi_value send_frame(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  PacketSocket *socket = socket_argument(env, info, 2, argv, "send() needs a socket handle and a frame", 1);
  if (!socket) return NULL;
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) return addon_throw_error(env, "the frame must be a Buffer", 0);
  napi_value outcome;
  for (;;) {
    ssize_t sent = send(socket->base.fd, data, length, 0);
    int code = sent >= 0 ? 0 : (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : errno == ENOBUFS ? 2 : -1;
    if (code < 0 && errno == EINTR) continue;
    if (code < 0) return addon_throw_error(env, "send", errno);
    CHECK(napi_create_int32(env, code, &outcome));
    return outcome;
  }
}

/*
 * bulkArm(handle, slot, ackTemplate, fields) -> slot: arms the bulk receive offload for one flow (slot -1: a new
 * one); fields is a Uint32Array laid out as bulk_receive.h's enum. -1 when every slot is taken (the flow then runs
 * without it). Throws on a template or fields the offload cannot use.
 */
static napi_value bulk_arm_flow(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  PacketSocket *socket = socket_argument(env, info, 4, argv, "bulkArm() needs a socket handle, a slot, a template and fields", 1);
  if (!socket) return NULL;
  int32_t slot;
  void *template_frame;
  size_t template_length;
  napi_typedarray_type type;
  size_t count;
  void *fields;
  if (napi_get_value_int32(env, argv[1], &slot) != napi_ok || napi_get_buffer_info(env, argv[2], &template_frame, &template_length) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &type, &count, &fields, NULL, NULL) != napi_ok || type != napi_uint32_array ||
      count != BULK_FIELD_COUNT)
    return addon_throw_error(env, "bulkArm() needs a slot, a Buffer and a Uint32Array of the fields", 0);
  if (!socket->bulk && !(socket->bulk = bulk_table_new())) return addon_throw_error(env, "out of memory", 0);
  char error[160];
  int armed = bulk_arm(socket->bulk, slot, template_frame, template_length, fields, error, sizeof error);
  if (armed == -1) return addon_throw_error(env, error, 0);
  napi_value result;
  CHECK(napi_create_int32(env, armed < 0 ? -1 : armed, &result));
  return result;
}

/* bulkPause(handle, slot) and bulkRelease(handle, slot): see bulk_receive.h. */
static napi_value bulk_slot_call(napi_env env, napi_callback_info info, void (*operation)(BulkTable *, int)) {
  napi_value argv[2];
  PacketSocket *socket = socket_argument(env, info, 2, argv, "needs a socket handle and a slot", 0);
  int32_t slot;
  if (!socket) return NULL;
  if (napi_get_value_int32(env, argv[1], &slot) != napi_ok) return addon_throw_error(env, "needs a socket handle and a slot", 0);
  if (socket->bulk) operation(socket->bulk, slot);
  /* A released slot's payloads kept in this event (only if JavaScript released it from an error callback in the
   * middle of a batch) must not reach the slot's next flow. */
  if (operation == bulk_release && slot >= 0 && slot < BULK_MAX_FLOWS) socket->bulk_chunk_count[slot] = 0;
  return NULL;
}

static napi_value bulk_pause_flow(napi_env env, napi_callback_info info) { return bulk_slot_call(env, info, bulk_pause); }
static napi_value bulk_release_flow(napi_env env, napi_callback_info info) { return bulk_slot_call(env, info, bulk_release); }

/* watchWritable(handle): calls onWritable once when the socket can take frames again. */
static napi_value watch_writable(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  PacketSocket *socket = socket_argument(env, info, 1, argv, "watchWritable() needs a socket handle", 0);
  if (!socket) return NULL;
  if (socket->base.closed || socket->watching_writable) return NULL;
  socket->watching_writable = 1;
  uv_poll_start(&socket->base.poll, UV_READABLE | UV_WRITABLE, on_readable);
  return NULL;
}

/* close(handle): idempotent. The poll handle is released by libuv on the next loop turn. */
static napi_value close_socket(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  PacketSocket *socket = socket_argument(env, info, 1, argv, "close() needs a socket handle", 0);
  if (!socket) return NULL;
  addon_socket_close(&socket->base);
  return NULL;
}

/*
 * reservePort(addressBytes[, port[, datagram]]) -> {fd, port}: a TCP socket bound to `port` (default 0: an ephemeral
 * one) of a local address (4 or 16 bytes) and listening, so the kernel hands that port to no other connection while a
 * hand-built flow uses it. With `datagram` true, a bound UDP socket instead: it also keeps this host's kernel from
 * answering the server's replies to a UDP flow with ICMP port unreachable (nobody reads it; it is closed after).
 * Done here rather than with net.Server because listen() through Node loads its cluster, child_process, dgram
 * and dns modules (~2-3 ms, measured), a tenth of a check's own time.
 */
static napi_value reserve_port(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *bytes;
  size_t length;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &bytes, &length) != napi_ok || (length != 4 && length != 16))
    return addon_throw_error(env, "reservePort() needs a 4- or 16-byte address", 0);
  int32_t wanted = 0;
  napi_valuetype port_type = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &port_type);
  if (port_type != napi_undefined && (napi_get_value_int32(env, argv[1], &wanted) != napi_ok || wanted < 0 || wanted > 65535))
    return addon_throw_error(env, "reservePort() needs a port from 0 to 65535", 0);
  bool datagram = false;
  if (argc >= 3 && napi_get_value_bool(env, argv[2], &datagram) != napi_ok)
    return addon_throw_error(env, "reservePort() needs a boolean for datagram", 0);
  struct sockaddr_storage address;
  socklen_t address_length;
  memset(&address, 0, sizeof address);
  if (length == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)wanted);
    memcpy(&v4->sin_addr, bytes, 4);
    address_length = sizeof *v4;
  } else {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)wanted);
    memcpy(&v6->sin6_addr, bytes, 16);
    address_length = sizeof *v6;
  }
  int fd = socket(address.ss_family, (datagram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return addon_throw_error(env, "socket", errno);
  if (bind(fd, (struct sockaddr *)&address, address_length) != 0 || (!datagram && listen(fd, 1) != 0) ||
      getsockname(fd, (struct sockaddr *)&address, &address_length) != 0) {
    int saved = errno;
    close(fd);
    return addon_throw_error(env, saved == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : saved == EADDRINUSE ? "EADDRINUSE" : "bind", saved);
  }
  int port = ntohs(address.ss_family == AF_INET ? ((struct sockaddr_in *)&address)->sin_port
                                                : ((struct sockaddr_in6 *)&address)->sin6_port);
  napi_value result, fd_value, port_value;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int32(env, fd, &fd_value));
  CHECK(napi_create_int32(env, port, &port_value));
  CHECK(napi_set_named_property(env, result, "fd", fd_value));
  CHECK(napi_set_named_property(env, result, "port", port_value));
  return result;
}

/* releasePort(fd): closes a socket from reservePort(). */
static napi_value release_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return addon_throw_error(env, "releasePort() needs a descriptor", 0);
  close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, send_frame, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL},
      {"watchWritable", NULL, watch_writable, NULL, NULL, NULL, napi_default, NULL},
      {"bulkArm", NULL, bulk_arm_flow, NULL, NULL, NULL, napi_default, NULL},
      {"bulkPause", NULL, bulk_pause_flow, NULL, NULL, NULL, napi_default, NULL},
      {"bulkRelease", NULL, bulk_release_flow, NULL, NULL, NULL, napi_default, NULL},
      {"reservePort", NULL, reserve_port, NULL, NULL, NULL, napi_default, NULL},
      {"releasePort", NULL, release_port, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return netlink_define_properties(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
