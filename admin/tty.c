/* Terminal input: bounded lines, and passwords read without echo. */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
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

/* The signals that end or stop a process from its terminal or session:
 * while echo is off they are held, so that the terminal is put back
 * before one takes effect. */
static const int held_signals[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGTSTP };

/* The signals held while echo is off, as a descriptor to poll. */
typedef struct {
	sigset_t held;  /* those of held_signals[] the process does not ignore
	                 * (one that is ignored ends nothing) */
	sigset_t saved; /* the mask before */
	int fd;         /* signalfd(2) of held */
} Held;

static int
hold(Held *h, GError **err)
{
	sigemptyset(&h->held);
	for (gsize i = 0; i < G_N_ELEMENTS(held_signals); i++) {
		struct sigaction sa;

		if (sigaction(held_signals[i], NULL, &sa) == 0 && sa.sa_handler != SIG_IGN)
			sigaddset(&h->held, held_signals[i]);
	}
	if (sigprocmask(SIG_BLOCK, &h->held, &h->saved) < 0) {
		hm_set_error_errno(err, errno, "sigprocmask");
		return -1;
	}
	if ((h->fd = signalfd(-1, &h->held, SFD_CLOEXEC)) < 0) {
		hm_set_error_errno(err, errno, "signalfd");
		sigprocmask(SIG_SETMASK, &h->saved, NULL);
		return -1;
	}
	return 0;
}

static void
release(Held *h)
{
	close(h->fd);
	sigprocmask(SIG_SETMASK, &h->saved, NULL);
}

/* Waits until tty has a line to read (0) or a held signal came (its
 * number, taken from sfd); -1 with *err. In canonical mode poll() says
 * readable only once the whole line is in, so the read that follows
 * does not block. */
static int
wait_line(int tty, int sfd, GError **err)
{
	struct pollfd fds[2] = { { .fd = tty, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };

	for (;;) {
		struct signalfd_siginfo si;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			hm_set_error_errno(err, errno, "terminal");
			return -1;
		}
		if (fds[1].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				return (int)si.ssi_signo;
			continue;
		}
		if (fds[0].revents != 0)
			return 0;
	}
}

/* Writes prompt, turns echo off and reads a line; puts the terminal back
 * and lets a held signal take effect when one comes (asking again if the
 * process lives on: it was stopped and continued, or the signal is
 * handled). */
static gssize
read_quietly(int tty, const Held *h, const char *prompt, char *buf, gboolean *eof, GError **err)
{
	struct termios old, quiet;
	gssize n = -1;

	for (;;) {
		int sig;

		if (tcgetattr(tty, &old) < 0) {
			hm_set_error_errno(err, errno, "terminal");
			return -1;
		}
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
		quiet.c_lflag |= ECHONL;
		if (write(tty, prompt, strlen(prompt)) < 0 ||
		    tcsetattr(tty, TCSAFLUSH, &quiet) < 0) {
			hm_set_error_errno(err, errno, "terminal");
			return -1;
		}
		sig = wait_line(tty, h->fd, err);
		if (sig == 0)
			n = hm_tty_read_line(tty, buf, HM_TTY_SECRET_BUF, TRUE, eof, err);
		tcsetattr(tty, TCSAFLUSH, &old);
		if (sig <= 0)
			return n;
		/* The default action: the process ends (or stops) here, with
		 * its terminal as it found it. */
		sigprocmask(SIG_SETMASK, &h->saved, NULL);
		raise(sig);
		sigprocmask(SIG_BLOCK, &h->held, NULL);
	}
}

gssize
hm_tty_read_secret(int tty, const char *prompt, char *buf, GError **err)
{
	gboolean eof = FALSE;
	gssize n;
	Held h;

	if (hold(&h, err) < 0)
		return -1;
	n = read_quietly(tty, &h, prompt, buf, &eof, err);
	release(&h);
	if (n == -2) {
		hm_tty_password_too_long(err);
		return -2;
	}
	if (n == 0 && eof) {
		g_set_error_literal(err, HM_ERROR, HM_ERROR_FAILED, "the input ended");
		return -1;
	}
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
	GError *why = NULL;
	gssize m = hm_tty_read_secret(tty, prompt, again, &why);

	if (m == -1) {
		g_propagate_error(err, why);
		res = HM_TTY_PASSWORD_ERROR;
	} else if (m == -2 || (gsize)m != n || memcmp(buf, again, n) != 0) {
		g_clear_error(&why);
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

	if (n == -1)
		return HM_TTY_PASSWORD_ERROR;
	if (n == -2 || hm_tty_password_check(buf, (gsize)n, err) < 0)
		res = HM_TTY_PASSWORD_BAD;
	else
		res = hm_tty_confirm_password(tty, again_prompt, buf, (gsize)n, err);
	if (res != HM_TTY_PASSWORD_OK)
		explicit_bzero(buf, HM_TTY_SECRET_BUF);
	return res;
}
