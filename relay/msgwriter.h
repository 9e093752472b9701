/* Writes a message arriving over SMTP into a new queue file, line by
 * line: our trace field first, then the client's lines with CRLF ends
 * (a bare LF becomes CRLF, DESIGN.md's SMTP input rule), Message-ID: and
 * Date: added at the end of the header section of a submission that
 * lacks them, and the size limit enforced as the data comes (the rest of
 * an oversized message is read and dropped, so the session stays in
 * step). A message holding a NUL octet is refused the same way: RFC 5322
 * text (and 8BITMIME) cannot carry one, local delivery refuses it, and a
 * downstream server may cut the message there; it is better refused now
 * than bounced later. Errors are sticky: after the first one the input is discarded
 * and relay_msg_writer_finish() reports it. */
#ifndef RELAY_MSGWRITER_H
#define RELAY_MSGWRITER_H

#include <glib.h>

#include "relay/queue.h"

typedef struct {
	guint64 max_size;        /* octets of client content; 0: no limit */
	gboolean add_missing;    /* add Message-ID: and Date: when absent */
	const char *hostname;    /* right side of the Message-ID */
	const char *trace;       /* our Received: field (CRLF included) or NULL */
	gsize hold;              /* keep a message up to this size in memory
	                          * (relay_queue_file_new_held()); 0: none */
} RelayMsgParams;

typedef struct RelayMsgWriter RelayMsgWriter;

/* Why a message with a NUL octet is refused, for every way in. */
#define RELAY_MSG_NUL "message contains a NUL byte, which mail cannot carry"

/* Starts the queue file for e in queue_dir (e->id is set). NULL with
 * *err when the file cannot be created. */
RelayMsgWriter *relay_msg_writer_new(const char *queue_dir, RelayQueueEntry *e,
                                     const RelayMsgParams *mp, GError **err);

/* One line of DATA content, dot-unstuffed, without its line end.
 * partial: a segment of a longer line, which goes on in the next call. */
void relay_msg_writer_line(RelayMsgWriter *w, const char *data, gsize len, gboolean partial);

/* Raw octets (BDAT chunks), split into lines here; a line may span
 * chunks. */
void relay_msg_writer_bytes(RelayMsgWriter *w, const char *data, gsize len);

/* TRUE once the content went over max_size. */
gboolean relay_msg_writer_too_big(const RelayMsgWriter *w);

/* TRUE once the content held a NUL octet. */
gboolean relay_msg_writer_has_nul(const RelayMsgWriter *w);

/* Octets of client content so far. */
guint64 relay_msg_writer_size(const RelayMsgWriter *w);

/* The octets data[0..len) counts against max_size when it is all given
 * to relay_msg_writer_bytes(): its lines with CRLF ends (a bare LF
 * counts two, an unended last line gets its CRLF). For a sender that
 * must know beforehand whether the writer will take a message. */
guint64 relay_msg_stored_size(const char *data, gsize len);

/* Ends the message and links the file into place without syncing (the
 * caller commits: hm_group_commit_sync()). Frees w. 0, or -1 with *err
 * and nothing left behind: the first write error, HM_ERROR_FAILED
 * with errno EFBIG when the message was too big, or HM_ERROR_PARSE with
 * errno EINVAL when it held a NUL octet. */
int relay_msg_writer_finish(RelayMsgWriter *w, GError **err);

/* As relay_msg_writer_finish(), but hands the file over unlinked (and
 * still held in memory when it is small enough), for the caller to
 * commit or abort. NULL with *err as there. */
RelayQueueFile *relay_msg_writer_end(RelayMsgWriter *w, GError **err);

/* Drops the message and frees w. NULL-safe. */
void relay_msg_writer_abort(RelayMsgWriter *w);

#endif
