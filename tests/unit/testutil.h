/* Helpers shared by the unit tests: temporary directories, the small
 * tmpfs mounts that stand in for a full disk, a test certificate, and a
 * scripted peer for client transcripts. Each one fails the test
 * (assertion or g_error) rather than return an error. */
#ifndef HM_TESTUTIL_H
#define HM_TESTUTIL_H

#include <glib.h>
#include <openssl/ssl.h>

/* Creates a fresh directory "<prefix>-XXXXXX" in the temporary directory
 * and returns its path (g_free() it). Asserts that it was created. */
char *hm_test_tmpdir(const char *prefix);

/* Removes dir and everything below it; symlinks are removed, never
 * followed. A missing dir is fine; asserts that every unlink and rmdir of
 * what is there succeeds. */
void hm_test_remove_tree(const char *dir);

/* Mounts a tmpfs of size bytes (mount(8) syntax: "64k") with mode 0700 on
 * the existing directory dir. Tests run as root, so a failed mount is a
 * g_error(), never a skip: a skipped disk-full test would hide a bug. */
void hm_test_mount_tmpfs(const char *dir, const char *size);

/* Unmounts what hm_test_mount_tmpfs() mounted on dir; asserts success. */
void hm_test_umount(const char *dir);

/* A config warning callback that drops the warning, for tests whose
 * configs warn on purpose or where warnings are beside the point. */
void hm_test_ignore_warning(const char *line, gpointer data);

/* For a test whose regression would block (a FIFO opened for reading):
 * runs the calling test again in a child process, which must pass within
 * seconds, so that a hang fails the test instead of stalling the suite.
 * Returns TRUE in the child, which then runs the test's body, and FALSE in
 * the parent once it has asserted that the child passed:
 *     if (!hm_test_in_child(5)) return;  */
gboolean hm_test_in_child(guint seconds);

/* Creates a FIFO at path (asserting success). */
void hm_test_mkfifo(const char *path);

/* The owner of path itself (lstat), asserting it exists. */
uid_t hm_test_owner(const char *path);

/* An owner other than the one of the test's files: nobody when the test
 * runs as root, else ourselves (then only refusals can be checked). */
uid_t hm_test_other_uid(void);

/* Writes a self-signed EC certificate for localhost (subjectAltName
 * DNS:localhost and IP:127.0.0.1, valid for two days) and its key as
 * cert.pem and key.pem into dir, and returns their paths in *cert and
 * *key (g_free() them). Asserts that openssl succeeded. */
void hm_test_make_cert(const char *dir, char **cert, char **key);

/* ---- a scripted peer ----------------------------------------------------
 * A server thread that plays a script to the client under test: it sends
 * what the script says, when the script says, and records every line the
 * client sends, so a test can assert the exact commands and feed replies
 * that are split, dripped, cut or late (the transcript tests of STYLE.md). */

typedef enum {
	HM_TEST_END,       /* the end of a step list */
	HM_TEST_SEND,      /* send data (len octets) at once */
	HM_TEST_SPLIT,     /* send data in writes of the peer's chunk octets */
	HM_TEST_EXPECT,    /* read a line; it must be data, else the script fails */
	HM_TEST_READ,      /* read a line, whatever it is */
	HM_TEST_READ_DOT,  /* read lines up to and including a "." line */
	HM_TEST_EOF,       /* the client must send nothing more (it closes) */
	HM_TEST_TLS,       /* the server side of a TLS handshake, with the peer's tls */
	HM_TEST_CLOSE,     /* close the connection (nothing is read after it) */
	HM_TEST_ACCEPT,    /* close the connection and accept the next one */
	HM_TEST_SLEEP,     /* sleep len milliseconds */
	HM_TEST_SUB,       /* run the steps in sub, then go on */
} HmTestOp;

typedef struct HmTestStep {
	HmTestOp op;
	const char *data;
	gsize len;
	const struct HmTestStep *sub;
} HmTestStep;

typedef struct {
	/* Settings, to change before hm_test_peer_start(): */
	SSL_CTX *tls;          /* for HM_TEST_TLS; not owned */
	gsize chunk;           /* octets per write for HM_TEST_SPLIT (1) */
	gboolean strict;       /* a command before the reply to the previous one
	                        * fails the script (no pipelining allowed) */
	gboolean record_rest;  /* after the script, record lines until the
	                        * client closes: "nothing more was sent" counts */
	int timeout_ms;        /* for every read and write (3000) */
	guint16 port;          /* the port listened on (TCP only) */
	/* Results, once hm_test_peer_join() returned: */
	GPtrArray *lines;      /* each line the client sent, without its end */
	GString *transcript;   /* each line with its end ("\r\n", or "\n" when it
	                        * came bare), and "<EOF>" or "<TIMEOUT>" where a
	                        * read found no line */
	char *error;           /* the first deviation from the script, or NULL */
	/* Private. */
	int lfd;
	const HmTestStep *steps;
	GArray *own_steps;
	GPtrArray *own_data;
	GThread *thread;
} HmTestPeer;

/* A listening socket on 127.0.0.1 with a port the kernel picks; *port
 * (when not NULL) receives it. */
int hm_test_listen_tcp(guint16 *port);

/* A listening UNIX stream socket at path. */
int hm_test_listen_unix(const char *path);

/* A peer that will accept one connection on lfd (it owns lfd from now on)
 * and play steps (not copied: they must outlive the peer). Not started. */
HmTestPeer *hm_test_peer_new(int lfd, const HmTestStep *steps);

/* The same with the script as strings, one step each (copied):
 *   "S:text"  send text and CRLF      "R:bytes"  send bytes as they are
 *   "D:bytes" drip bytes (HM_TEST_SPLIT)
 *   "C:line"  expect line             ">"  read a line    "."  read through "."
 *   "EOF"     expect the client to close                  "TLS"  handshake
 *   "CLOSE"   close                   "ACCEPT"  accept the next connection
 *   "Z:ms"    sleep
 * script is NULL-terminated. */
HmTestPeer *hm_test_peer_new_script(int lfd, const char *const *script);

/* Starts the peer's thread. */
void hm_test_peer_start(HmTestPeer *p);

/* Waits for the script to end and closes the listening socket; fails the
 * test (naming what the client sent) if the script did not run as
 * written. */
void hm_test_peer_join(HmTestPeer *p);

/* The lines the client sent, each followed by "|": "CAPA|USER u|". */
char *hm_test_peer_sent(const HmTestPeer *p);

void hm_test_peer_free(HmTestPeer *p);

/* hm_test_peer_join(), then frees the peer and returns its transcript
 * (g_free() it). */
char *hm_test_peer_finish(HmTestPeer *p);

/* The names in dir, sorted and joined by spaces (to spot stray temporary
 * files); g_free() it. Asserts that dir can be read. */
char *hm_test_dir_list(const char *dir);

/* Asserts that the file at path holds exactly want. */
void hm_test_assert_file(const char *path, const char *want);

#endif
