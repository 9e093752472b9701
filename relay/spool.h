/* The queue directory's layout and the wake-up channel of the runner:
 *   state_dir/queue/          0711: the relay's queue files (0600, its own);
 *                             the runner holds a flock on the directory
 *                             (relay_spool_lock())
 *   state_dir/queue/drop/     1733: homemail-sendmail leaves messages here
 *                             (anyone may create, no one but the relay
 *                             may list or read others' files), so local
 *                             programs can send while the relay is down
 *   state_dir/queue/pickup    FIFO 0622: a byte written here wakes the
 *                             runner ('m' new mail, 'f' flush everything)
 *   state_dir/queue/done/     0700: finished entries waiting to be removed
 *                             (relay_queue_retire(), relay_queue_reap())
 *   state_dir/queue/sendmail.conf
 *                             0644: what homemail-sendmail needs to know,
 *                             for the users who may not read the config
 *                             (it holds password hashes: root:homemail
 *                             0640) */
#ifndef RELAY_SPOOL_H
#define RELAY_SPOOL_H

#include <glib.h>

#include "conf/hmconfig.h"

/* Creates what is missing of the layout above with those modes. Refuses
 * (-1 with *err) a path that exists as something else, a symlink
 * included. 0 on success. */
int relay_spool_prepare(const char *state_dir, GError **err);

/* Opens the pickup FIFO for reading and writing without blocking (so it
 * never reads end-of-file while no writer is there), refusing anything
 * but a FIFO. The fd, or -1 with *err. */
int relay_spool_open_pickup(const char *queue_dir, GError **err);

/* What relay_spool_poke() did. */
typedef enum {
	RELAY_POKE_SENT,   /* the runner has it */
	RELAY_POKE_DOWN,   /* no runner listens, or there is no FIFO (no relay
	                    * ran yet): the relay is down, and does the work
	                    * when it starts */
	RELAY_POKE_FAILED, /* *err: the FIFO cannot be opened for another
	                    * reason (EACCES for a user who may not enter
	                    * state_dir), or is not one */
} RelayPoke;

/* Writes c to the pickup FIFO without blocking. A RelayPoke; err may be
 * NULL. */
RelayPoke relay_spool_poke(const char *queue_dir, char c, GError **err);

/* Removes from queue_dir the temporary files (lib/atomic.h) that a
 * session, runner or relay killed mid-write left, and that nothing lists
 * (relay_queue_list() skips them): those unchanged for min_age_s, or all
 * with 0, which only the relay's start may ask for, before it forks any
 * session or runner: then no writer of ours can be at work there (a
 * session a killed relay left behind would find its file gone at its
 * commit, and answer 451). Logs and returns how many were removed. */
guint relay_spool_clear_stale(const char *queue_dir, gint64 min_age_s);

/* Takes the queue for the one runner that may deliver from it: an
 * exclusive flock(2) on queue_dir itself, held until the returned fd is
 * closed, which the kernel does however the holder ends (kill -9
 * included). Two runners on one queue would send the same message twice:
 * a relay started while the runner of the one before still finishes its
 * delivery must wait for it. Returns the fd (close-on-exec), or -1 with
 * *err: HM_ERROR_TIMEOUT when another process holds it, HM_ERROR_IO when
 * queue_dir cannot be opened. */
int relay_spool_lock(const char *queue_dir, GError **err);

/* The name of that file in the queue directory. */
#define RELAY_SPOOL_SENDMAIL_CONF "sendmail.conf"

/* Writes state_dir/queue/sendmail.conf from cfg: the host name, the
 * message size limit and the first listener without TLS, as a config
 * file homemail-sendmail can load. Nothing in it is a secret. 0, or -1
 * with *err. */
int relay_spool_publish(const HmConfig *cfg, GError **err);

/* Loads what relay_spool_publish() wrote in the default state_dir, after
 * checking that only its owner may change it; for homemail-sendmail
 * when the config is not readable. The config, or NULL with *err. */
HmConfig *relay_spool_load_published(GError **err);

#endif
