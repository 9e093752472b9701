/* The config text `homemail setup` writes from its answers. Each setting
 * it manages stands on a line of its own and every group opens and closes
 * on lines of their own, so that a re-run can tell its lines from the
 * person's (admin/setup-merge.c). Same answers, same bytes.
 *
 * What it writes without asking (the smart host's name, the trusted
 * networks besides loopback and the LAN, where plain-text logins are
 * allowed, the targets of postmaster and root, a sender address not asked
 * for) comes from the existing config where it has one
 * (setup-current.c), so that a re-run changes only what was answered. */
#include <config.h>

#include <string.h>

#include "admin/setup.h"

static const char *
get(const HmSetup *s, const char *prefix, const char *suffix)
{
	g_autofree char *id = g_strconcat(prefix, suffix, NULL);
	const char *v = g_hash_table_lookup(s->answers, id);

	return v != NULL ? v : "";
}

/* The answer, else what the existing config has; NULL when neither. */
static const char *
carried(const HmSetup *s, const char *prefix, const char *suffix)
{
	g_autofree char *id = g_strconcat(prefix, suffix, NULL);

	return hm_setup_value(s, id);
}

/* A string literal. Answers hold no quote, backslash or control character
 * (setup-questions.c); what comes from the existing config may. */
static void
quoted(GString *t, const char *value)
{
	g_string_append_c(t, '"');
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(t, "\\%c", *p);
		else if ((guchar)*p < 0x20 || *p == 0x7f)
			g_string_append_printf(t, "\\x%02x", (guchar)*p);
		else
			g_string_append_c(t, *p);
	}
	g_string_append_c(t, '"');
}

/* `key = "value";` at indent, when value is not empty. */
static void
str(GString *t, const char *indent, const char *key, const char *value)
{
	if (*value == '\0')
		return;
	g_string_append_printf(t, "%s%s = ", indent, key);
	quoted(t, value);
	g_string_append(t, ";\n");
}

/* `key = [ "a", "b" ];` of the words of extra and list, each once. */
static void
array(GString *t, const char *indent, const char *key, const char *list, const char *extra)
{
	g_auto(GStrv) words = hm_setup_split(list);
	g_auto(GStrv) more = hm_setup_split(extra);
	g_autoptr(GPtrArray) all = g_ptr_array_new();

	for (char **w = more; *w != NULL; w++)
		g_ptr_array_add(all, *w);
	for (char **w = words; *w != NULL; w++)
		g_ptr_array_add(all, *w);
	g_string_append_printf(t, "%s%s = [", indent, key);
	for (guint i = 0; i < all->len; i++) {
		guint j = 0;

		while (strcmp(g_ptr_array_index(all, j), g_ptr_array_index(all, i)) != 0)
			j++;
		if (j < i)
			continue;
		g_string_append(t, i > 0 ? ", " : " ");
		quoted(t, g_ptr_array_index(all, i));
	}
	g_string_append(t, " ];\n");
}

/* A setting that takes a string or a list: one word as a string (as
 * setup wrote it before it took lists), more as a list. */
static void
str_or_array(GString *t, const char *indent, const char *key, const char *value)
{
	g_auto(GStrv) words = hm_setup_split(value);

	if (g_strv_length(words) > 1)
		array(t, indent, key, value, NULL);
	else
		str(t, indent, key, words[0] != NULL ? words[0] : "");
}

static void
render_head(GString *t, const HmSetup *s)
{
	g_string_append(t, "// homemail.conf, written by `homemail setup` (see homemail.conf(5)).\n"
	                   "// Run `homemail setup` again to change the answers: it keeps the\n"
	                   "// comments and settings you add here on lines of their own.\n\n");
	str(t, "", "hostname", get(s, "", "hostname"));
	str(t, "", "state_dir", get(s, "", "state_dir"));
	str(t, "", "mail_dir", get(s, "", "mail_dir"));
	array(t, "", "local_domains", get(s, "", "local_domains"), NULL);
	g_string_append(t, "tls = {\n");
	str(t, "  ", "cert", get(s, "", "tls.cert"));
	str(t, "  ", "key", get(s, "", "tls.key"));
	g_string_append(t, "};\n");
	str(t, "", "run_as", get(s, "", "run_as"));
}

/* Where the config sends postmaster's or root's mail, while it is still
 * an address or a user; else the first user. */
static const char *
alias_target(const HmSetup *s, const char *alias, char **users)
{
	const char *v = carried(s, "alias.", alias);

	if (v != NULL && (strchr(v, '@') != NULL || g_strv_contains((const char *const *)users, v)))
		return v;
	return users[0];
}

static void
render_users(GString *t, const HmSetup *s)
{
	g_auto(GStrv) users = hm_setup_split(get(s, "", "users"));

	g_string_append(t, "\nusers = (\n");
	for (char **u = users; *u != NULL; u++) {
		g_autofree char *prefix = g_strconcat("user.", *u, NULL);

		const char *send_as = carried(s, prefix, ".send_as");

		g_string_append_printf(t, "  { name = \"%s\";\n", *u);
		str(t, "    ", "password", get(s, prefix, ".password_hash"));
		/* Asked only when mail leaves through a smart host. */
		str(t, "    ", "send_as", send_as != NULL ? send_as : "");
		g_string_append_printf(t, "  }%s\n", u[1] != NULL ? "," : "");
	}
	g_string_append(t, ");\n");
	if (users[0] == NULL)
		return;
	g_string_append(t, "aliases = {\n");
	str(t, "  ", "postmaster", alias_target(s, "postmaster", users));
	str(t, "  ", "root", alias_target(s, "root", users));
	g_string_append(t, "};\n");
}

/* host, port, TLS, user and login of an account or the smart host. */
static void
render_endpoint(GString *t, const HmSetup *s, const char *prefix)
{
	str(t, "      ", "host", get(s, prefix, ".host"));
	/* Empty only in a config rendered half-way, for a live check. */
	if (*get(s, prefix, ".port") != '\0')
		g_string_append_printf(t, "      port = %s;\n", get(s, prefix, ".port"));
	str(t, "      ", "tls", get(s, prefix, ".tls"));
	/* A pin without TLS does not load: kept in the answers, left out. */
	if (strcmp(get(s, prefix, ".tls"), "none") != 0)
		str(t, "      ", "fingerprint", get(s, prefix, ".fingerprint"));
	str(t, "      ", "user", get(s, prefix, ".user"));
	if (strcmp(get(s, prefix, ".auth"), "oauth2") != 0) {
		str(t, "      ", "password_file", get(s, prefix, ".password_file"));
		return;
	}
	g_string_append(t, "      auth = \"oauth2\";\n      oauth2 = {\n");
	str(t, "        ", "provider", get(s, prefix, ".oauth2_provider"));
	str(t, "        ", "client_id", get(s, prefix, ".client_id"));
	if (strcmp(get(s, prefix, ".oauth2_provider"), "google") == 0)
		str(t, "        ", "client_secret_file", get(s, prefix, ".client_secret_file"));
	if (strcmp(get(s, prefix, ".oauth2_provider"), "custom") == 0) {
		str(t, "        ", "token_url", get(s, prefix, ".token_url"));
		str(t, "        ", "device_url", get(s, prefix, ".device_url"));
		str(t, "        ", "authorize_url", get(s, prefix, ".authorize_url"));
		str(t, "        ", "ca_file", get(s, prefix, ".oauth2_ca_file"));
	}
	g_string_append(t, "      };\n");
}

/* A list setup writes with a default, unless the config has its own. */
static const char *
carried_or(const HmSetup *s, const char *id, const char *fallback)
{
	const char *v = carried(s, id, "");

	return v != NULL ? v : fallback;
}

static void
render_relay(GString *t, const HmSetup *s)
{
	const char *name = carried_or(s, "smarthost.name", "smarthost");
	g_autofree char *trusted = g_strconcat(get(s, "", "lan_network"), " ",
	                                       carried_or(s, "relay.trusted_networks", ""), NULL);

	g_string_append(t, "\nrelay = {\n");
	array(t, "  ", "listen", get(s, "", "relay.listen"), NULL);
	array(t, "  ", "trusted_networks", trusted, "127.0.0.1/32 ::1/128");
	array(t, "  ", "allow_plaintext_from", NULL,
	      carried_or(s, "relay.allow_plaintext_from", "127.0.0.1/32 ::1/128"));
	if (strcmp(get(s, "", "mail_type"), "smarthost") == 0 && *get(s, "smarthost", ".host") != '\0') {
		g_string_append(t, "  smarthosts = (\n    { name = ");
		quoted(t, name);
		g_string_append(t, ";\n");
		render_endpoint(t, s, "smarthost");
		g_string_append(t, "    }\n  );\n");
	}
	g_string_append(t, "};\n");
}

static void
render_fetcher(GString *t, const HmSetup *s)
{
	g_auto(GStrv) names = hm_setup_split(get(s, "", "accounts"));

	g_string_append(t, "\nfetcher = {\n");
	if (strcmp(get(s, "", "mail_type"), "local") != 0 && names[0] != NULL) {
		g_string_append(t, "  accounts = (\n");
		for (char **n = names; *n != NULL; n++) {
			g_autofree char *prefix = g_strconcat("account.", *n, NULL);

			g_string_append_printf(t, "    { name = \"%s\";\n", *n);
			str(t, "      ", "protocol", get(s, prefix, ".protocol"));
			render_endpoint(t, s, prefix);
			str(t, "      ", "to", get(s, prefix, ".to"));
			g_string_append_printf(
				t, "      keep = %s;\n",
				strcmp(get(s, prefix, ".keep"), "yes") == 0 ? "true" : "false");
			g_string_append_printf(t, "    }%s\n", n[1] != NULL ? "," : "");
		}
		g_string_append(t, "  );\n");
	}
	g_string_append(t, "};\n");
}

/* The record the dialogue edits; the config's others (rfc2136 and the
 * like) are put back into the list by the merge, and keep the detection
 * they had when this one is turned off. */
static void
render_dyndns(GString *t, const HmSetup *s)
{
	const char *prov = get(s, "", "dyndns.provider");
	gboolean on = *prov != '\0' && strcmp(prov, "none") != 0;
	gboolean others = g_strcmp0(carried(s, "dyndns.others", ""), "yes") == 0;

	g_string_append(t, "\ndyndns = {\n");
	if (on) {
		array(t, "  ", "detect", get(s, "", "dyndns.detect"), NULL);
		str_or_array(t, "  ", "detect_url4", get(s, "", "dyndns.detect_url4"));
	} else if (others) {
		array(t, "  ", "detect", carried_or(s, "dyndns.detect", ""), NULL);
		str_or_array(t, "  ", "detect_url4", carried_or(s, "dyndns.detect_url4", ""));
	}
	if (on || others)
		g_string_append(t, "  records = (\n");
	if (on) {
		g_string_append_printf(t, "    { provider = \"%s\";\n", prov);
		str(t, "      ", "hostname", get(s, "", "dyndns.hostname"));
		str(t, "      ", "server", get(s, "", "dyndns.server"));
		str(t, "      ", "user", get(s, "", "dyndns.user"));
		/* dyndns2 logs in with a password; the others send an API token. */
		str(t, "      ", strcmp(prov, "dyndns2") == 0 ? "password_file" : "token_file",
		    get(s, "", "dyndns.password_file"));
		g_string_append(t, "    }\n");
	}
	if (on || others)
		g_string_append(t, "  );\n");
	g_string_append(t, "};\n");
}

char *
hm_setup_render(const HmSetup *s)
{
	GString *t = g_string_new(NULL);

	render_head(t, s);
	render_users(t, s);
	render_relay(t, s);
	render_fetcher(t, s);
	g_string_append(t, "\npopd = {\n");
	array(t, "  ", "listen", get(s, "", "popd.listen"), NULL);
	array(t, "  ", "allow_plaintext_from", NULL,
	      carried_or(s, "popd.allow_plaintext_from", "127.0.0.1/32 ::1/128"));
	g_string_append(t, "};\n");
	render_dyndns(t, s);
	return g_string_free(t, FALSE);
}
