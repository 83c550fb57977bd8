/*
 * The bulk receive offload: the in-order path of a TCP receiver, for the flows JavaScript arms, run in the packet
 * socket's read loop before any JavaScript.
 *
 * Why (docs/benchmarks.md, "The 1 MiB transfer"): a bulk transfer over veth is a ping-pong of one 64 KB GRO frame
 * per ACK, and the server sends its next frame inside our ACK's send(). Through JavaScript the turn from a frame
 * to its ACK took 100-240 µs (the kernel's takes 8 µs), and 1 MiB took 4x curl. Here the ACK leaves a few µs after
 * the read, the next frame is usually already queued when send() returns, and JavaScript sees the data once per
 * read batch instead of once per frame.
 *
 * Only the plainest case is handled; everything else goes to JavaScript's engine as before, which stays the one
 * TCP implementation:
 * - a flow JavaScript armed (ESTABLISHED, nothing of ours in flight, no out-of-order data: connection.ts decides);
 * - flags ACK or ACK|PSH, the ACK field and window exactly as armed, the sequence number exactly RCV.NXT;
 * - no TCP options, or exactly NOP NOP TS when timestamps are in use (Linux's layout), and TSval not older than
 *   TS.Recent (PAWS, RFC 7323 5);
 * - at least the flow's full-sized payload (a shorter one usually ends a response, whose ACK JavaScript may let
 *   ride on the FIN or RST), and all of it within the window;
 * - checksums the kernel vouches for (TP_STATUS_CSUMNOTREADY or CSUM_VALID); others are verified in JavaScript;
 * - IPv4 without options or fragmentation, IPv6 with TCP as the first next header.
 * The first frame of an armed flow that does not qualify pauses the flow: JavaScript handles it (after the data
 * taken before it, so order holds) and re-arms when its state allows.
 *
 * The data itself is copied out by the caller (packet_socket.c), frame by frame, into JavaScript Buffers that stay
 * below malloc's mmap threshold: one large buffer per hand-off was fresh memory every time, and its page faults
 * cost 0.3-0.6 ms per MiB (measured).
 *
 * ACK policy, as the engine's (receiver.ts): an ACK once more than one full-sized segment is unacknowledged, so a
 * GRO frame is acknowledged at once and plain segments every second one. What is unacknowledged at the hand-off
 * is the engine's to acknowledge (delayed ACK). The advertised right edge is the one armed: the window only
 * shrinks here as data arrives, and JavaScript moves the edge when it re-arms.
 */
#include "bulk_receive.h"

#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define ETHERNET_HEADER 14
#define TEMPLATE_MAX 160
#define TCP_ACK 0x10
#define TCP_PSH 0x08

typedef struct {
  int in_use;
  /* Frames may be taken; cleared by the first frame of the flow that needs JavaScript. */
  int active;
  int family;
  int address_length;
  uint8_t local[16];
  uint8_t remote[16];
  uint16_t local_port;
  uint16_t remote_port;
  uint32_t field[BULK_FIELD_COUNT];
  uint64_t armed_at_ns;
  uint8_t ack_frame[TEMPLATE_MAX];
  size_t ack_length;
  size_t tcp_offset;
  /* The ACK's TCP header length: what its checksum covers (the frame may carry Ethernet padding after it). */
  size_t tcp_header;
  /* Offset of the timestamp option's TSval in ack_frame, or 0. */
  size_t tsval_offset;
  uint32_t unacknowledged;
  /* Taken and not handed off yet: the first byte's sequence number, and how many bytes. */
  uint32_t pending_seq;
  size_t pending;
  uint32_t frames;
  uint32_t acks;
} BulkFlow;

struct BulkTable {
  BulkFlow flows[BULK_MAX_FLOWS];
  /* Slots in use, so that a socket without armed flows pays one comparison per frame. */
  int in_use;
};

static uint16_t read16(const uint8_t *at) { return (uint16_t)(at[0] << 8 | at[1]); }
static uint32_t read32(const uint8_t *at) { return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3]; }
static void write16(uint8_t *at, uint32_t value) {
  at[0] = (uint8_t)(value >> 8);
  at[1] = (uint8_t)value;
}
static void write32(uint8_t *at, uint32_t value) {
  at[0] = (uint8_t)(value >> 24);
  at[1] = (uint8_t)(value >> 16);
  at[2] = (uint8_t)(value >> 8);
  at[3] = (uint8_t)value;
}
/* a <= b in sequence space (RFC 9293's modular comparison). */
static int seq_le(uint32_t a, uint32_t b) { return (int32_t)(b - a) >= 0; }

static uint64_t monotonic_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static uint32_t sum16(const uint8_t *bytes, size_t length, uint32_t sum) {
  for (size_t i = 0; i + 1 < length; i += 2) sum += read16(bytes + i);
  if (length & 1) sum += (uint32_t)bytes[length - 1] << 8;
  return sum;
}

static uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

BulkTable *bulk_table_new(void) { return calloc(1, sizeof(BulkTable)); }

void bulk_table_free(BulkTable *table) { free(table); }

/* Where the template's IP and TCP headers are, and its addresses and ports; 0 or -1 with `error`. */
static int read_template(BulkFlow *flow, const uint8_t *frame, size_t length, char *error, size_t error_size) {
  if (length < ETHERNET_HEADER + 40 || length > TEMPLATE_MAX) {
    snprintf(error, error_size, "bulk receive: an ACK template of %zu bytes", length);
    return -1;
  }
  uint16_t ether_type = read16(frame + 12);
  const uint8_t *ip = frame + ETHERNET_HEADER;
  if (ether_type == 0x0800 && ip[0] == 0x45 && ip[9] == 6) {
    flow->family = 4;
    flow->address_length = 4;
    memcpy(flow->local, ip + 12, 4);
    memcpy(flow->remote, ip + 16, 4);
    flow->tcp_offset = ETHERNET_HEADER + 20;
  } else if (ether_type == 0x86dd && length >= ETHERNET_HEADER + 60 && (ip[0] >> 4) == 6 && ip[6] == 6) {
    flow->family = 6;
    flow->address_length = 16;
    memcpy(flow->local, ip + 8, 16);
    memcpy(flow->remote, ip + 24, 16);
    flow->tcp_offset = ETHERNET_HEADER + 40;
  } else {
    snprintf(error, error_size, "bulk receive: the ACK template is not a TCP segment over IPv4 or IPv6");
    return -1;
  }
  const uint8_t *tcp = frame + flow->tcp_offset;
  size_t header = (size_t)(tcp[12] >> 4) * 4;
  /* Ethernet pads a short frame to 60 bytes: the header may end before the frame does. */
  if (header < 20 || flow->tcp_offset + header > length || tcp[13] != TCP_ACK) {
    snprintf(error, error_size, "bulk receive: the ACK template is not a pure ACK");
    return -1;
  }
  flow->tcp_header = header;
  flow->local_port = read16(tcp);
  flow->remote_port = read16(tcp + 2);
  flow->tsval_offset = 0;
  for (size_t at = 20; at < header;) {
    uint8_t kind = tcp[at];
    if (kind == 0) break;
    if (kind == 1) {
      at++;
      continue;
    }
    if (at + 1 >= header || tcp[at + 1] < 2 || at + tcp[at + 1] > header) break;
    if (kind == 8 && tcp[at + 1] == 10) flow->tsval_offset = flow->tcp_offset + at + 2;
    at += tcp[at + 1];
  }
  memcpy(flow->ack_frame, frame, length);
  flow->ack_length = length;
  return 0;
}

int bulk_arm(BulkTable *table, int slot, const uint8_t *template_frame, size_t template_length, const uint32_t *fields,
             char *error, size_t error_size) {
  if (slot < -1 || slot >= BULK_MAX_FLOWS || (slot >= 0 && !table->flows[slot].in_use)) {
    snprintf(error, error_size, "bulk receive: no armed slot %d", slot);
    return -1;
  }
  if (slot == -1) {
    for (int i = 0; i < BULK_MAX_FLOWS && slot == -1; i++)
      if (!table->flows[i].in_use) slot = i;
    if (slot == -1) return -2;
  }
  BulkFlow candidate;
  memset(&candidate, 0, sizeof candidate);
  if (read_template(&candidate, template_frame, template_length, error, error_size) != 0) return -1;
  const uint32_t next = fields[BULK_RCV_NXT];
  if (fields[BULK_SCALE] > 14 || fields[BULK_MIN_PAYLOAD] == 0 || fields[BULK_PEER_WINDOW] > 0xffff ||
      fields[BULK_TIMESTAMPS] > 1 || (fields[BULK_TIMESTAMPS] && candidate.tsval_offset == 0) ||
      !seq_le(next, fields[BULK_ACCEPT_UNTIL]) || !seq_le(fields[BULK_ACCEPT_UNTIL], fields[BULK_EDGE]) ||
      !seq_le(fields[BULK_LAST_ACK_SENT], next)) {
    snprintf(error, error_size, "bulk receive: inconsistent fields");
    return -1;
  }
  BulkFlow *flow = &table->flows[slot];
  if (flow->pending > 0) {
    /* Never expected (hand-offs leave all at once, before JavaScript runs): the fields describe a receiver that
     * has not seen this data. Stop instead; the hand-off follows and its step arms again. */
    flow->active = 0;
    return slot;
  }
  if (!flow->in_use) table->in_use++;
  *flow = candidate;
  memcpy(flow->field, fields, sizeof flow->field);
  /* What the engine left unacknowledged counts toward the next ACK here. */
  flow->unacknowledged = next - fields[BULK_LAST_ACK_SENT];
  flow->armed_at_ns = monotonic_ns();
  flow->in_use = 1;
  flow->active = 1;
  return slot;
}

void bulk_pause(BulkTable *table, int slot) {
  if (slot >= 0 && slot < BULK_MAX_FLOWS) table->flows[slot].active = 0;
}

void bulk_release(BulkTable *table, int slot) {
  if (slot < 0 || slot >= BULK_MAX_FLOWS || !table->flows[slot].in_use) return;
  BulkFlow *flow = &table->flows[slot];
  memset(flow, 0, sizeof *flow);
  table->in_use--;
}

/* Acknowledges everything taken so far: the template with the ACK number, window, TSval, TSecr and checksum. */
static void send_ack(BulkFlow *flow, int fd) {
  uint8_t *frame = flow->ack_frame;
  uint8_t *tcp = frame + flow->tcp_offset;
  const uint32_t next = flow->field[BULK_RCV_NXT];
  uint32_t window = (flow->field[BULK_EDGE] - next) >> flow->field[BULK_SCALE];
  write32(tcp + 8, next);
  write16(tcp + 14, window > 0xffff ? 0xffff : window);
  if (flow->tsval_offset) {
    uint32_t elapsed_ms = (uint32_t)((monotonic_ns() - flow->armed_at_ns) / 1000000u);
    write32(frame + flow->tsval_offset, flow->field[BULK_TSVAL] + elapsed_ms);
    write32(frame + flow->tsval_offset + 4, flow->field[BULK_TS_RECENT]);
  }
  size_t tcp_length = flow->tcp_header;
  write16(tcp + 16, 0);
  /* Pseudo-header: the addresses, then protocol and length (their order does not change a one's-complement sum). */
  uint32_t sum = sum16(flow->local, (size_t)flow->address_length, 0);
  sum = sum16(flow->remote, (size_t)flow->address_length, sum);
  sum += 6 + (uint32_t)tcp_length;
  write16(tcp + 16, fold(sum16(tcp, tcp_length, sum)));
  /* A full socket or device queue drops this ACK; the next one (or the engine's, after the hand-off) covers it. */
  if (send(fd, frame, flow->ack_length, MSG_DONTWAIT) < 0) return;
  flow->field[BULK_LAST_ACK_SENT] = next;
  flow->unacknowledged = 0;
  flow->acks++;
}

static BulkFlow *flow_of(BulkTable *table, int family, const uint8_t *source, const uint8_t *destination, const uint8_t *tcp) {
  uint16_t source_port = read16(tcp), destination_port = read16(tcp + 2);
  for (int i = 0; i < BULK_MAX_FLOWS; i++) {
    BulkFlow *flow = &table->flows[i];
    if (flow->in_use && flow->family == family && flow->remote_port == source_port && flow->local_port == destination_port &&
        memcmp(flow->remote, source, (size_t)flow->address_length) == 0 &&
        memcmp(flow->local, destination, (size_t)flow->address_length) == 0)
      return flow;
  }
  return NULL;
}

/* Whether `flow` may take this segment (see the list at the top). */
static int qualifies(const BulkFlow *flow, const uint8_t *tcp, size_t segment_length, size_t *payload_offset) {
  size_t header = (size_t)(tcp[12] >> 4) * 4;
  uint8_t flags = tcp[13];
  if ((tcp[12] & 0x0f) != 0 || (flags != TCP_ACK && flags != (TCP_ACK | TCP_PSH))) return 0;
  if (flow->field[BULK_TIMESTAMPS]) {
    if (header != 32 || tcp[20] != 1 || tcp[21] != 1 || tcp[22] != 8 || tcp[23] != 10) return 0;
    if ((int32_t)(read32(tcp + 24) - flow->field[BULK_TS_RECENT]) < 0) return 0;
  } else if (header != 20) {
    return 0;
  }
  if (segment_length < header + flow->field[BULK_MIN_PAYLOAD]) return 0;
  const uint32_t seq = read32(tcp + 4);
  const uint32_t length = (uint32_t)(segment_length - header);
  if (seq != flow->field[BULK_RCV_NXT] || read32(tcp + 8) != flow->field[BULK_PEER_ACK] ||
      read16(tcp + 14) != flow->field[BULK_PEER_WINDOW] || !seq_le(seq + length, flow->field[BULK_ACCEPT_UNTIL]))
    return 0;
  *payload_offset = header;
  return 1;
}

int bulk_take(BulkTable *table, int fd, const uint8_t *frame, size_t length, uint32_t kernel_status, size_t *payload_offset,
              size_t *payload_length) {
  if (!table || table->in_use == 0 || length < ETHERNET_HEADER + 40) return -1;
  const uint8_t *ip = frame + ETHERNET_HEADER;
  const uint8_t *tcp;
  size_t segment_length;
  BulkFlow *flow;
  uint16_t ether_type = read16(frame + 12);
  if (ether_type == 0x0800) {
    if (ip[0] != 0x45 || ip[9] != 6 || (read16(ip + 6) & 0x3fff) != 0) return -1;
    size_t total = read16(ip + 2);
    if (total < 40 || ETHERNET_HEADER + total > length) return -1;
    tcp = ip + 20;
    segment_length = total - 20;
    flow = flow_of(table, 4, ip + 12, ip + 16, tcp);
  } else if (ether_type == 0x86dd) {
    if (length < ETHERNET_HEADER + 60 || (ip[0] >> 4) != 6 || ip[6] != 6) return -1;
    size_t payload = read16(ip + 4);
    if (payload < 20 || ETHERNET_HEADER + 40 + payload > length) return -1;
    tcp = ip + 40;
    segment_length = payload;
    flow = flow_of(table, 6, ip + 8, ip + 24, tcp);
  } else {
    return -1;
  }
  if (!flow || !flow->active) return -1;
  size_t header = 0;
  if (!(kernel_status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID)) || !qualifies(flow, tcp, segment_length, &header)) {
    flow->active = 0;
    return -1;
  }
  const uint32_t seq = read32(tcp + 4);
  const uint32_t taken = (uint32_t)(segment_length - header);
  /* RFC 7323 4.3: a segment starting at or before Last.ACK.sent updates TS.Recent (PAWS was checked above). */
  if (flow->field[BULK_TIMESTAMPS] && seq_le(seq, flow->field[BULK_LAST_ACK_SENT])) flow->field[BULK_TS_RECENT] = read32(tcp + 24);
  if (flow->pending == 0) flow->pending_seq = seq;
  flow->pending += taken;
  flow->field[BULK_RCV_NXT] = seq + taken;
  flow->unacknowledged += taken;
  flow->frames++;
  if (flow->unacknowledged > flow->field[BULK_MIN_PAYLOAD]) send_ack(flow, fd);
  *payload_offset = (size_t)(tcp - frame) + header;
  *payload_length = taken;
  return (int)(flow - table->flows);
}

int bulk_pending(const BulkTable *table) {
  if (!table || table->in_use == 0) return 0;
  for (int i = 0; i < BULK_MAX_FLOWS; i++)
    if (table->flows[i].pending > 0) return 1;
  return 0;
}

int bulk_handoff_all(BulkTable *table, BulkHandoff *out) {
  int count = 0;
  for (int i = 0; table && i < BULK_MAX_FLOWS; i++) {
    BulkFlow *flow = &table->flows[i];
    if (flow->pending == 0) continue;
    out[count++] = (BulkHandoff){
        .slot = i,
        .first_seq = flow->pending_seq,
        .length = flow->pending,
        .last_ack_sent = flow->field[BULK_LAST_ACK_SENT],
        .ts_recent = flow->field[BULK_TS_RECENT],
        .frames = flow->frames,
        .acks = flow->acks,
    };
    flow->pending = 0;
    flow->frames = 0;
    flow->acks = 0;
  }
  return count;
}
