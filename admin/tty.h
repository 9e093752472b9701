/* Terminal input for the interactive commands (`homemail passwd`,
 * `homemail setup`): bounded lines read with read(2), so nothing is left
 * in a stdio buffer between a plain answer and a password read without
 * echo on the same descriptor. */
#ifndef HM_TTY_H
#define HM_TTY_H

#include <glib.h>

#include "lib/passwd.h"

/* Room for the longest password (HM_PASSWORD_MAX), the newline that may
 * follow it, and a NUL. */
#define HM_TTY_SECRET_BUF (HM_PASSWORD_MAX + 2)

/* Reads fd into buf (size bytes) up to a newline (when stop_at_newline;
 * not stored) or end of file, and NUL-terminates it. Returns the length;
 * -1 with *err set on a read error; -2 (err untouched) when the line does
 * not fit, after reading up to its newline so the next read starts on the
 * next line. *eof is set when the input ended before a newline (may be
 * NULL). */
gssize hm_tty_read_line(int fd, char *buf, gsize size, gboolean stop_at_newline, gboolean *eof,
                        GError **err);

/* Writes prompt to tty and reads one line from it without echo into buf
 * (HM_TTY_SECRET_BUF bytes). The echo is back on when it returns, and
 * when a signal from the terminal or the session (SIGINT, SIGQUIT,
 * SIGTERM, SIGHUP, SIGTSTP) comes meanwhile: those are held while echo is
 * off, the terminal is put back, and then the signal takes its effect (the
 * process ends, or stops and asks again when continued). For a process
 * with no other thread that could take those signals. Returns the length;
 * -1 with *err set when the input ended before anything was typed
 * (Ctrl-D), or on an error of the terminal; -2 with *err set (by
 * hm_tty_password_too_long()) when the line was longer than a password
 * can be, and was read to its end so that the next read starts on the
 * next line. */
gssize hm_tty_read_secret(int tty, const char *prompt, char *buf, GError **err);

/* The error for a password over HM_PASSWORD_MAX octets. Returns -1. */
int hm_tty_password_too_long(GError **err);

/* Checks a password of n octets: not empty, at most HM_PASSWORD_MAX, no
 * CR, LF or NUL (a POP3 PASS line cannot carry those, nor a C string).
 * Returns 0, or -1 with *err saying what is wrong. */
int hm_tty_password_check(const char *buf, gsize n, GError **err);

/* The outcome of hm_tty_new_password(). */
typedef enum {
	HM_TTY_PASSWORD_OK,
	HM_TTY_PASSWORD_MISMATCH, /* the second typing differs: ask again */
	HM_TTY_PASSWORD_BAD,      /* refused by hm_tty_password_check() */
	HM_TTY_PASSWORD_ERROR,    /* the terminal failed */
} HmTtyPassword;

/* Reads the password again on tty without echo (prompt) and compares it
 * with the n octets in buf, the first typing. Returns HM_TTY_PASSWORD_OK,
 * HM_TTY_PASSWORD_MISMATCH or HM_TTY_PASSWORD_ERROR (with *err). */
HmTtyPassword hm_tty_confirm_password(int tty, const char *prompt, const char *buf, gsize n,
                                      GError **err);

/* Asks for a new password twice on tty without echo (prompt, then
 * again_prompt) into buf (HM_TTY_SECRET_BUF bytes); the copy is wiped.
 * Anything but HM_TTY_PASSWORD_OK comes with *err set. */
HmTtyPassword hm_tty_new_password(int tty, const char *prompt, const char *again_prompt, char *buf,
                                  GError **err);

#endif
