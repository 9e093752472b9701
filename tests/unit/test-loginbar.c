/* The failed-login bar (lib/loginbar.c): counts shared by processes,
 * reservations, the window, and a full table. */
#include <config.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/loginbar.h"

static void
test_counts(void)
{
	g_autoptr(GError) err = NULL;
	HmLoginBar *bar = hm_login_bar_new(3, 300, &err);

	g_assert_no_error(err);
	for (int i = 0; i < 3; i++) {
		g_assert_false(hm_login_bar_barred(bar, "192.0.2.1"));
		g_assert_true(hm_login_bar_begin(bar, "192.0.2.1", 0));
		hm_login_bar_end(bar, "192.0.2.1", TRUE);
	}
	g_assert_true(hm_login_bar_barred(bar, "192.0.2.1"));
	g_assert_false(hm_login_bar_begin(bar, "192.0.2.1", 1000));
	/* Another address is not affected; good logins never count. */
	for (int i = 0; i < 10; i++) {
		g_assert_true(hm_login_bar_begin(bar, "2001:db8::1", 0));
		hm_login_bar_end(bar, "2001:db8::1", FALSE);
	}
	g_assert_false(hm_login_bar_barred(bar, "2001:db8::1"));
	hm_login_bar_free(bar);
}

/* Checks under way count: with 2 of 3 failures used, only one check may
 * be under way; a second waits for it, and is refused once it failed. */
static void
test_reservations(void)
{
	HmLoginBar *bar = hm_login_bar_new(3, 300, NULL);
	gint64 t0;

	for (int i = 0; i < 2; i++) {
		g_assert_true(hm_login_bar_begin(bar, "192.0.2.7", 0));
		hm_login_bar_end(bar, "192.0.2.7", TRUE);
	}
	g_assert_true(hm_login_bar_begin(bar, "192.0.2.7", 0));
	t0 = g_get_monotonic_time();
	g_assert_false(hm_login_bar_begin(bar, "192.0.2.7", 200));
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 190000);
	/* A good login ends the reservation: the next may go ahead. */
	hm_login_bar_end(bar, "192.0.2.7", FALSE);
	g_assert_true(hm_login_bar_begin(bar, "192.0.2.7", 0));
	hm_login_bar_end(bar, "192.0.2.7", TRUE);
	g_assert_true(hm_login_bar_barred(bar, "192.0.2.7"));
	hm_login_bar_free(bar);
}

static void
test_window(void)
{
	HmLoginBar *bar = hm_login_bar_new(1, 1, NULL);

	g_assert_true(hm_login_bar_begin(bar, "192.0.2.9", 0));
	hm_login_bar_end(bar, "192.0.2.9", TRUE);
	g_assert_true(hm_login_bar_barred(bar, "192.0.2.9"));
	g_usleep(2100 * 1000);
	g_assert_false(hm_login_bar_barred(bar, "192.0.2.9"));
	g_assert_true(hm_login_bar_begin(bar, "192.0.2.9", 0));
	hm_login_bar_end(bar, "192.0.2.9", FALSE);
	hm_login_bar_free(bar);
}

/* A flood of addresses reuses the oldest slots: the table never grows,
 * and the newest addresses are still counted. */
static void
test_full_table(void)
{
	HmLoginBar *bar = hm_login_bar_new(1, 300, NULL);

	for (int i = 0; i < 5000; i++) {
		g_autofree char *a = g_strdup_printf("10.%d.%d.1", i / 256, i % 256);

		g_assert_true(hm_login_bar_begin(bar, a, 0));
		hm_login_bar_end(bar, a, TRUE);
	}
	g_assert_true(hm_login_bar_barred(bar, "10.19.135.1"));  /* the 5000th */
	hm_login_bar_free(bar);
}

/* Many processes guessing at once for one address: no more checks than
 * the bar allows, whatever the interleaving. */
static void
test_processes(void)
{
	enum { PROCS = 24, MAX = 10 };
	HmLoginBar *bar = hm_login_bar_new(MAX, 300, NULL);
	int pipefd[2];
	pid_t pids[PROCS];
	guint total = 0;
	char c;

	g_assert_cmpint(pipe(pipefd), ==, 0);
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		g_assert_cmpint(pids[i], >=, 0);
		if (pids[i] == 0) {
			close(pipefd[0]);
			while (hm_login_bar_begin(bar, "198.51.100.1", 5000)) {
				g_usleep(2000);  /* the password check */
				if (write(pipefd[1], "x", 1) != 1)
					_exit(2);
				hm_login_bar_end(bar, "198.51.100.1", TRUE);
			}
			_exit(0);
		}
	}
	close(pipefd[1]);
	while (read(pipefd[0], &c, 1) == 1)
		total++;
	close(pipefd[0]);
	for (int i = 0; i < PROCS; i++) {
		int status;

		g_assert_cmpint(waitpid(pids[i], &status, 0), ==, pids[i]);
		g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	g_assert_cmpuint(total, ==, MAX);
	hm_login_bar_free(bar);
}

/* A session killed while it held a reservation: the others go on, and
 * the reservation counts until the window ends. */
static void
test_killed_holder(void)
{
	HmLoginBar *bar = hm_login_bar_new(2, 300, NULL);
	pid_t pid = fork();
	int status;

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		hm_login_bar_begin(bar, "203.0.113.1", 0);
		raise(SIGKILL);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(hm_login_bar_begin(bar, "203.0.113.1", 0));
	g_assert_false(hm_login_bar_begin(bar, "203.0.113.1", 50));
	hm_login_bar_end(bar, "203.0.113.1", TRUE);
	g_assert_false(hm_login_bar_barred(bar, "203.0.113.1"));
	hm_login_bar_free(bar);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/loginbar/counts", test_counts);
	g_test_add_func("/loginbar/reservations", test_reservations);
	g_test_add_func("/loginbar/window", test_window);
	g_test_add_func("/loginbar/full-table", test_full_table);
	g_test_add_func("/loginbar/processes", test_processes);
	g_test_add_func("/loginbar/killed-holder", test_killed_holder);
	return g_test_run();
}
