/*
 * The bulk receive offload of a packet socket (bulk_receive.c): in-order, full-sized TCP segments of a flow that
 * JavaScript has armed are acknowledged here, as they are read, and their data handed to JavaScript in one piece
 * per read batch.
 */
#ifndef VIPCHECK_BULK_RECEIVE_H
#define VIPCHECK_BULK_RECEIVE_H

#include <stddef.h>
#include <stdint.h>

/* Flows armed at once per socket; beyond this a flow simply runs without the offload. */
#define BULK_MAX_FLOWS 32

/* The uint32 fields of arm(), by index (src/core/link/bulk-receive.ts writes them in this order). */
enum {
  BULK_RCV_NXT,       /* the next sequence number expected */
  BULK_EDGE,          /* the window's right edge (a sequence number) our ACKs advertise */
  BULK_ACCEPT_UNTIL,  /* segments ending beyond this (at or before the edge) are left to JavaScript */
  BULK_SCALE,         /* our window scale shift */
  BULK_PEER_ACK,      /* the ACK field a segment must carry (SND.MAX: none of our data in flight) */
  BULK_PEER_WINDOW,   /* the window field it must carry (unchanged: JavaScript's send side stays as it is) */
  BULK_MIN_PAYLOAD,   /* shorter segments are left to JavaScript (its ACK of a response's end may wait) */
  BULK_TIMESTAMPS,    /* 1: segments must carry the timestamp option in Linux's layout, our ACKs carry it */
  BULK_TS_RECENT,     /* TS.Recent (RFC 7323 4.3) */
  BULK_TSVAL,         /* our TSval now; later ACKs add the milliseconds since arm() */
  BULK_LAST_ACK_SENT, /* Last.ACK.sent */
  BULK_FIELD_COUNT
};

typedef struct BulkTable BulkTable;

/* What one flow's offload took since its last hand-off (the bytes themselves the caller kept, frame by frame). */
typedef struct {
  int slot;
  /* The sequence number of the first byte taken: the receiver's RCV.NXT when it takes the data. */
  uint32_t first_seq;
  size_t length;
  uint32_t last_ack_sent;
  uint32_t ts_recent;
  uint32_t frames;
  uint32_t acks;
} BulkHandoff;

BulkTable *bulk_table_new(void);
void bulk_table_free(BulkTable *table);

/*
 * Arms `slot` (or a free slot when it is -1) with an ACK frame to patch and send and the fields above. Returns
 * the slot, or -1 with `error` set when the template or the fields are not usable, -2 when every slot is taken.
 * A slot belongs to one flow until released: pausing it (or a frame that needs JavaScript) stops the taking, and
 * what was taken but not handed off yet is still handed off.
 */
int bulk_arm(BulkTable *table, int slot, const uint8_t *template_frame, size_t template_length, const uint32_t *fields,
             char *error, size_t error_size);

/* Stops taking frames for `slot` until it is armed again. Out-of-range or free slots are ignored. */
void bulk_pause(BulkTable *table, int slot);

/* Frees `slot` (the flow is over). Out-of-range or free slots are ignored. */
void bulk_release(BulkTable *table, int slot);

/*
 * Takes `frame` if it is the next in-order, full-sized segment of an armed flow and sends the ACK it calls for on
 * `fd`: returns the flow's slot, with where the payload lies in the frame (the caller keeps those bytes, in
 * order, for the hand-off). Otherwise -1, and the flow the frame belongs to (if any) is paused until re-armed,
 * since JavaScript's handling of the frame may change what the offload assumes.
 */
int bulk_take(BulkTable *table, int fd, const uint8_t *frame, size_t length, uint32_t kernel_status, size_t *payload_offset,
              size_t *payload_length);

/* Whether any slot holds data not handed off yet. */
int bulk_pending(const BulkTable *table);

/*
 * Moves every slot's facts since its last hand-off out into `out` (room for BULK_MAX_FLOWS); returns how many.
 * All leave at once, so that the JavaScript the caller then runs for each can arm, pause or release any slot.
 */
int bulk_handoff_all(BulkTable *table, BulkHandoff *out);

#endif
