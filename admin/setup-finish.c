/* The end of `homemail setup`: the services started (or what to run), and
 * what a desktop mail client on the LAN needs — and what homemail does not
 * need, which is what people used to a mail server expect to set up. */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/net.h"
#include "admin/setup.h"

static const char *const units[] = {
	"homemail-relay.service",
	"homemail-popd.service",
	"homemail-fetcher.timer",
	"homemail-dyndns.timer",
};

/* What sd_booted(3) checks, without linking libsystemd for it. */
static gboolean
systemd_runs(void)
{
	return access("/run/systemd/system", F_OK) == 0;
}

static int
enable_units(const HmSetup *s)
{
	GPtrArray *argv = g_ptr_array_new();
	g_autoptr(GError) err = NULL;
	const char *dyn = g_hash_table_lookup(s->answers, "dyndns.provider");
	int status = 0;

	g_ptr_array_add(argv, (gpointer) "systemctl");
	g_ptr_array_add(argv, (gpointer) "enable");
	g_ptr_array_add(argv, (gpointer) "--now");
	for (gsize i = 0; i < G_N_ELEMENTS(units); i++)
		if (strstr(units[i], "dyndns") == NULL || (dyn != NULL && strcmp(dyn, "none") != 0))
			g_ptr_array_add(argv, (gpointer)units[i]);
	g_ptr_array_add(argv, NULL);
	fflush(stdout);
	if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL,
	                  G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, NULL,
	                  NULL, &status, &err) ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "homemail: setup: systemctl enable --now failed%s%s\n",
		        err != NULL ? ": " : "", err != NULL ? err->message : "");
		g_ptr_array_free(argv, TRUE);
		return 1;
	}
	g_ptr_array_free(argv, TRUE);
	printf("\nStarted: the relay, the POP3 server and the fetcher's timer%s.\n",
	       dyn != NULL && strcmp(dyn, "none") != 0 ? ", and the dyndns timer" : "");
	return 0;
}

/* The ports of the listen answer id that a client on the LAN reaches:
 * plain ones into plain, "/tls" ones into tls. */
static void
client_ports(const HmSetup *s, const char *id, GString *plain, GString *tls)
{
	g_auto(GStrv) specs = hm_setup_split(g_hash_table_lookup(s->answers, id));

	/* The LAN's listeners; all of them when every one is on loopback. */
	for (int pass = 0; pass < 2 && plain->len == 0 && tls->len == 0; pass++)
		for (char **p = specs; *p != NULL; p++) {
			HmListenSpec l;
			GString *to;

			if (hm_listen_spec_parse(*p, &l, NULL) < 0)
				continue;
			to = l.tls ? tls : plain;
			if (pass == 1 || !hm_host_is_loopback(l.host))
				g_string_append_printf(to, "%s%u", to->len > 0 ? ", " : "", l.port);
			hm_listen_spec_clear(&l);
		}
}

static void
print_client(const HmSetup *s)
{
	const char *lan = g_hash_table_lookup(s->answers, "lan_address");
	g_autoptr(GString) pop = g_string_new(NULL);
	g_autoptr(GString) pops = g_string_new(NULL);
	g_autoptr(GString) smtp = g_string_new(NULL);
	g_autoptr(GString) smtps = g_string_new(NULL);
	g_auto(GStrv) users = hm_setup_split(g_hash_table_lookup(s->answers, "users"));

	client_ports(s, "popd.listen", pop, pops);
	client_ports(s, "relay.listen", smtp, smtps);
	printf("\nA mail client on the LAN needs:\n"
	       "  incoming: POP3, server %s, port %s with STARTTLS%s%s%s\n"
	       "  outgoing: SMTP, server %s, port %s with STARTTLS%s%s%s, "
	       "log in with the same user and password\n"
	       "  user: the local user name (%s), its password as set here\n"
	       "  TLS: the certificate %s (self-signed unless you gave one): trust it once\n",
	       lan != NULL && *lan != '\0' ? lan : "this box", pop->len ? pop->str : "-",
	       pops->len ? ", or " : "", pops->str, pops->len ? " with TLS" : "",
	       lan != NULL && *lan != '\0' ? lan : "this box", smtp->len ? smtp->str : "-",
	       smtps->len ? ", or " : "", smtps->str, smtps->len ? " with TLS" : "",
	       users[0] != NULL ? users[0] : "-",
	       (const char *)g_hash_table_lookup(s->answers, "tls.cert"));
	printf("\nhomemail does not need a domain of your own, an MX record, an inbound port 25\n"
	       "or a static IP address: mail comes in from your provider's mailboxes and goes\n"
	       "out through its smart host.\n");
}

int
hm_setup_finish(const HmSetup *s, gboolean no_start)
{
	int r = 0;

	if (!no_start && systemd_runs())
		r = enable_units(s);
	else
		printf("\nTo start homemail:\n  systemctl enable --now homemail-relay.service "
		       "homemail-popd.service homemail-fetcher.timer%s\n"
		       "or, without systemd:\n  homemail -c %s up\n",
		       strcmp((const char *)g_hash_table_lookup(s->answers, "dyndns.provider"),
		              "none") != 0
		               ? " homemail-dyndns.timer"
		               : "",
		       s->config_path);
	print_client(s);
	fflush(stdout);
	return r;
}
