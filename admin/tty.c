/* Terminal input: bounded lines, and passwords read without echo. */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lib/error.h"
#include "admin/tty.h"

gssize
hm_tty_read_line(int fd, char *buf, gsize size, gboolean stop_at_newline, gboolean *eof,
                 GError **err)
{
	gboolean overflow = FALSE;
	gsize n = 0;

	if (eof != NULL)
		*eof = FALSE;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			hm_set_error_errno(err, errno, "read");
			return -1;
		}
		if (r == 0 && eof != NULL)
			*eof = TRUE;
		if (r == 0 || (stop_at_newline && c == '\n'))
			break;
		if (n == size - 1) {
			overflow = TRUE;
			/* Without a newline to stop at, what is left could be
			 * endless: stop now. */
			if (!stop_at_newline)
				break;
			continue;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	return overflow ? -2 : (gssize)n;
}

int
hm_tty_password_too_long(GError **err)
{
	/* A longer password could be stored, but no login could carry it. */
	g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
	            "password longer than %d octets (the most a POP3 login carries)",
	            HM_PASSWORD_MAX);
	return -1;
}

gssize
hm_tty_read_secret(int tty, const char *prompt, char *buf, GError **err)
{
	struct termios old, quiet;
	gssize n;

	if (tcgetattr(tty, &old) < 0) {
		hm_set_error_errno(err, errno, "terminal");
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL;
	if (write(tty, prompt, strlen(prompt)) < 0 || tcsetattr(tty, TCSAFLUSH, &quiet) < 0) {
		hm_set_error_errno(err, errno, "terminal");
		return -1;
	}
	n = hm_tty_read_line(tty, buf, HM_TTY_SECRET_BUF, TRUE, NULL, err);
	tcsetattr(tty, TCSAFLUSH, &old);
	if (n == -2)
		return hm_tty_password_too_long(err);
	return n;
}

int
hm_tty_password_check(const char *buf, gsize n, GError **err)
{
	if (n == 0) {
		g_set_error_literal(err, HM_ERROR, HM_ERROR_FAILED, "empty password refused");
		return -1;
	}
	if (n > HM_PASSWORD_MAX)
		return hm_tty_password_too_long(err);
	if (memchr(buf, '\0', n) != NULL || memchr(buf, '\n', n) != NULL ||
	    memchr(buf, '\r', n) != NULL) {
		g_set_error_literal(err, HM_ERROR, HM_ERROR_FAILED,
		                    "the password contains a line break or NUL");
		return -1;
	}
	return 0;
}

HmTtyPassword
hm_tty_confirm_password(int tty, const char *prompt, const char *buf, gsize n, GError **err)
{
	char again[HM_TTY_SECRET_BUF];
	HmTtyPassword res = HM_TTY_PASSWORD_OK;
	gssize m = hm_tty_read_secret(tty, prompt, again, err);

	if (m < 0) {
		res = HM_TTY_PASSWORD_ERROR;
	} else if ((gsize)m != n || memcmp(buf, again, n) != 0) {
		g_set_error_literal(err, HM_ERROR, HM_ERROR_FAILED, "the passwords do not match");
		res = HM_TTY_PASSWORD_MISMATCH;
	}
	explicit_bzero(again, sizeof(again));
	return res;
}

HmTtyPassword
hm_tty_new_password(int tty, const char *prompt, const char *again_prompt, char *buf, GError **err)
{
	HmTtyPassword res;
	gssize n = hm_tty_read_secret(tty, prompt, buf, err);

	if (n < 0)
		return HM_TTY_PASSWORD_ERROR;
	if (hm_tty_password_check(buf, (gsize)n, err) < 0)
		res = HM_TTY_PASSWORD_BAD;
	else
		res = hm_tty_confirm_password(tty, again_prompt, buf, (gsize)n, err);
	if (res != HM_TTY_PASSWORD_OK)
		explicit_bzero(buf, HM_TTY_SECRET_BUF);
	return res;
}
