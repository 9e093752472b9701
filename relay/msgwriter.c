#include <config.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include "lib/error.h"
#include "lib/received.h"
#include "relay/limits.h"
#include "relay/msgwriter.h"

/* Output gathered before each write(): a message costs a few system
 * calls, not one per line. */
#define WRITE_CHUNK (64 * 1024)

struct RelayMsgWriter {
	RelayQueueFile *qf;
	RelayMsgParams mp;
	char *id;
	GString *out;
	GString *pending;        /* BDAT: the start of a line not yet ended */
	guint64 size;
	gsize header_bytes;
	gboolean line_start;     /* the next line() call begins a line */
	gboolean in_header;
	gboolean have_msgid, have_date;
	gboolean too_big;
	gboolean nul;            /* the content held a NUL octet */
	GError *error;
};

static void
write_out(RelayMsgWriter *w)
{
	if (w->error == NULL && w->out->len > 0)
		relay_queue_file_write(w->qf, w->out->str, w->out->len, &w->error);
	g_string_truncate(w->out, 0);
}

RelayMsgWriter *
relay_msg_writer_new(const char *queue_dir, RelayQueueEntry *e, const RelayMsgParams *mp,
                     GError **err)
{
	RelayQueueFile *qf = relay_queue_file_new_held(queue_dir, e, mp->hold, err);
	RelayMsgWriter *w;

	if (qf == NULL)
		return NULL;
	w = g_new0(RelayMsgWriter, 1);
	w->qf = qf;
	w->mp = *mp;
	w->id = g_strdup(e->id);
	w->out = g_string_sized_new(WRITE_CHUNK + RELAY_DATA_SEGMENT + 2);
	w->pending = g_string_new(NULL);
	w->line_start = TRUE;
	w->in_header = TRUE;
	if (mp->trace != NULL)
		g_string_append(w->out, mp->trace);
	return w;
}

/* The fields a submission lacks, before the end of its header section. */
static void
add_missing(RelayMsgWriter *w)
{
	w->in_header = FALSE;
	if (!w->mp.add_missing)
		return;
	if (!w->have_date) {
		g_string_append(w->out, "Date: ");
		hm_rfc5322_date_append(w->out, time(NULL));
		g_string_append(w->out, "\r\n");
	}
	if (!w->have_msgid)
		g_string_append_printf(w->out, "Message-ID: <%s.%08x@%s>\r\n", w->id, g_random_int(),
		                       w->mp.hostname);
}

static gboolean
field_is(const char *data, gsize len, const char *name)
{
	gsize n = strlen(name);

	return len > n && data[n] == ':' && g_ascii_strncasecmp(data, name, n) == 0;
}

/* Looks at the start of a line while in the header section. */
static void
scan_header(RelayMsgWriter *w, const char *data, gsize len, gboolean partial)
{
	gsize name = 0;

	w->header_bytes += len;
	if (w->header_bytes > RELAY_HEADER_SCAN_MAX) {
		w->in_header = FALSE;  /* too large to be a plain submission */
		return;
	}
	if (len == 0 && !partial) {
		add_missing(w);
		return;
	}
	if (data[0] == ' ' || data[0] == '\t')
		return;
	while (name < len && data[name] > ' ' && data[name] < 127 && data[name] != ':')
		name++;
	if (name == 0 || name >= len || data[name] != ':') {
		add_missing(w);  /* a body line without the empty line before it */
		return;
	}
	w->have_msgid |= field_is(data, len, "Message-ID");
	w->have_date |= field_is(data, len, "Date");
}

/* Whether the content is refused already: the rest is counted, not kept. */
static gboolean
refused(const RelayMsgWriter *w)
{
	return w->error != NULL || w->too_big || w->nul;
}

void
relay_msg_writer_line(RelayMsgWriter *w, const char *data, gsize len, gboolean partial)
{
	if (refused(w))
		return;
	if (w->line_start && w->in_header)
		scan_header(w, data, len, partial);
	w->size += len + (partial ? 0 : 2);
	if (w->mp.max_size != 0 && w->size > w->mp.max_size) {
		w->too_big = TRUE;
		return;
	}
	if (memchr(data, '\0', len) != NULL) {
		w->nul = TRUE;
		return;
	}
	g_string_append_len(w->out, data, (gssize)len);
	if (!partial)
		g_string_append(w->out, "\r\n");
	w->line_start = !partial;
	if (w->out->len >= WRITE_CHUNK)
		write_out(w);
}

/* Passes on the pending start of a line that grew long, keeping back a
 * final CR that may be the first half of a CRLF. */
static void
spill(RelayMsgWriter *w)
{
	gsize n = w->pending->len;

	if (n > 0 && w->pending->str[n - 1] == '\r')
		n--;
	relay_msg_writer_line(w, w->pending->str, n, TRUE);
	g_string_erase(w->pending, 0, (gssize)n);
}

/* The whole lines at data that end in CRLF, once past the header section
 * and between lines: they are stored as they came, so they go on in one
 * piece instead of a line at a time (a BDAT body is nearly all such
 * lines). Returns how many bytes it took. */
static gsize
body_lines(RelayMsgWriter *w, const char *data, gsize len)
{
	const char *p = data, *end = data + len, *nl;
	gsize n;

	if (w->in_header || !w->line_start || w->pending->len > 0 || refused(w))
		return 0;
	while (p < end && (nl = memchr(p, '\n', (gsize)(end - p))) != NULL && nl > p &&
	       nl[-1] == '\r')
		p = nl + 1;
	n = (gsize)(p - data);
	w->size += n;
	if (w->mp.max_size != 0 && w->size > w->mp.max_size) {
		w->too_big = TRUE;
		return n;
	}
	if (memchr(data, '\0', n) != NULL) {
		w->nul = TRUE;
		return n;
	}
	g_string_append_len(w->out, data, (gssize)n);
	if (w->out->len >= WRITE_CHUNK)
		write_out(w);
	return n;
}

void
relay_msg_writer_bytes(RelayMsgWriter *w, const char *data, gsize len)
{
	while (len > 0) {
		gsize taken = body_lines(w, data, len);
		const char *nl;
		gsize n;

		data += taken;
		len -= taken;
		if (len == 0)
			break;
		nl = memchr(data, '\n', len);
		n = nl != NULL ? (gsize)(nl - data) : len;

		g_string_append_len(w->pending, data, (gssize)n);
		data += n;
		len -= n;
		if (nl == NULL) {
			if (w->pending->len > RELAY_DATA_SEGMENT)
				spill(w);
			break;
		}
		data++;
		len--;
		n = w->pending->len;
		if (n > 0 && w->pending->str[n - 1] == '\r')
			n--;
		relay_msg_writer_line(w, w->pending->str, n, FALSE);
		g_string_truncate(w->pending, 0);
	}
}

gboolean
relay_msg_writer_too_big(const RelayMsgWriter *w)
{
	return w->too_big;
}

gboolean
relay_msg_writer_has_nul(const RelayMsgWriter *w)
{
	return w->nul;
}

guint64
relay_msg_writer_size(const RelayMsgWriter *w)
{
	return w->size;
}

guint64
relay_msg_stored_size(const char *data, gsize len)
{
	const char *p = data, *end = data + len, *nl;
	guint64 size = len;

	while ((nl = memchr(p, '\n', (gsize)(end - p))) != NULL) {
		if (nl == data || nl[-1] != '\r')
			size++;
		p = nl + 1;
	}
	return p < end ? size + 2 : size;
}

static void
writer_free(RelayMsgWriter *w)
{
	g_string_free(w->out, TRUE);
	g_string_free(w->pending, TRUE);
	g_clear_error(&w->error);
	g_free(w->id);
	g_free(w);
}

RelayQueueFile *
relay_msg_writer_end(RelayMsgWriter *w, GError **err)
{
	RelayQueueFile *qf = w->qf;

	if (w->pending->len > 0)  /* BDAT data that did not end its last line */
		relay_msg_writer_line(w, w->pending->str, w->pending->len, FALSE);
	if (w->in_header && !refused(w))
		add_missing(w);
	write_out(w);
	if (refused(w)) {
		int saved = w->too_big ? EFBIG : w->nul ? EINVAL : EIO;

		if (w->too_big)
			g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "message larger than %" G_GUINT64_FORMAT
			            " octets", w->mp.max_size);
		else if (w->nul)
			g_set_error_literal(err, HM_ERROR, HM_ERROR_PARSE, RELAY_MSG_NUL);
		else
			g_propagate_error(err, g_steal_pointer(&w->error));
		relay_queue_file_abort(qf);
		writer_free(w);
		errno = saved;
		return NULL;
	}
	writer_free(w);
	return qf;
}

int
relay_msg_writer_finish(RelayMsgWriter *w, GError **err)
{
	RelayQueueFile *qf = relay_msg_writer_end(w, err);

	return qf != NULL ? relay_queue_file_commit(qf, err) : -1;
}

void
relay_msg_writer_abort(RelayMsgWriter *w)
{
	if (w == NULL)
		return;
	relay_queue_file_abort(w->qf);
	writer_free(w);
}
