/* The address of a local interface (dyndns.detect "interface:NAME"), for
 * a box that holds its public address itself (a modem in bridge mode, a
 * VPS, and on most IPv6 networks). */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "dyndns/detect.h"
#include "lib/error.h"

/* Where the kernel lists IPv6 addresses with their flags, which
 * getifaddrs() leaves out: "ADDR IFINDEX PREFIXLEN SCOPE FLAGS NAME". */
#define IF_INET6 "/proc/net/if_inet6"

static int
find_v4(const HmDyndnsConf *d, const char *ifname, HmIpAddr *out, GError **err)
{
	struct ifaddrs *all, *ifa;
	gboolean seen = FALSE, found = FALSE;

	if (getifaddrs(&all) < 0) {
		hm_set_error_errno(err, errno, "getifaddrs");
		return -1;
	}
	for (ifa = all; ifa != NULL && !found; ifa = ifa->ifa_next) {
		HmIpAddr a = { .family = AF_INET };
		HmIpKind kind;

		if (strcmp(ifa->ifa_name, ifname) != 0 || ifa->ifa_addr == NULL ||
		    ifa->ifa_addr->sa_family != AF_INET)
			continue;
		seen = TRUE;
		memcpy(&a.u.v4, &((const struct sockaddr_in *)(const void *)ifa->ifa_addr)->sin_addr,
		       sizeof(a.u.v4));
		kind = hm_ip_kind(&a);
		if (kind == HM_IP_GLOBAL || (kind == HM_IP_PRIVATE && d->allow_private)) {
			*out = a;
			found = TRUE;
		}
	}
	freeifaddrs(all);
	if (!found)
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            seen ? "%s has no public IPv4 address%s" : "%s has no IPv4 address%s",
		            ifname, seen && !d->allow_private ? " (allow_private is false)" : "");
	return found ? 0 : -1;
}

gboolean
hm_dyn_if_inet6_line(char *line, const char *ifname, HmIpAddr *out)
{
	g_auto(GStrv) f = g_strsplit_set(g_strstrip(line), " \t", -1);
	g_autofree char **w = g_new0(char *, 7);
	guint n = 0;
	guint64 flags;

	for (guint i = 0; f[i] != NULL; i++)
		if (*f[i] != '\0') {
			if (n == 6)
				return FALSE;
			w[n++] = f[i];
		}
	if (n != 6 || strlen(w[0]) != 32 || strcmp(w[5], ifname) != 0 ||
	    !g_ascii_string_to_unsigned(w[4], 16, 0, G_MAXUINT32, &flags, NULL))
		return FALSE;
	/* Privacy addresses change every day and the rest are on their way
	 * out or not yet (or never) valid. */
	if (flags & (IFA_F_TEMPORARY | IFA_F_DEPRECATED | IFA_F_TENTATIVE | IFA_F_DADFAILED))
		return FALSE;
	out->family = AF_INET6;
	for (guint i = 0; i < 16; i++) {
		int hi = g_ascii_xdigit_value(w[0][2 * i]), lo = g_ascii_xdigit_value(w[0][2 * i + 1]);

		if (hi < 0 || lo < 0)
			return FALSE;
		out->u.v6.s6_addr[i] = (guint8)(hi << 4 | lo);
	}
	return hm_ip_kind(out) == HM_IP_GLOBAL;
}

static int
find_v6(const char *ifname, HmIpAddr *out, GError **err)
{
	FILE *f = fopen(IF_INET6, "re");
	char line[256];
	gboolean found = FALSE;

	if (f == NULL) {
		hm_set_error_errno(err, errno, "%s", IF_INET6);
		return -1;
	}
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = hm_dyn_if_inet6_line(line, ifname, out);
	fclose(f);
	if (!found)
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED,
		            "%s has no stable global IPv6 address (link-local, ULA, temporary "
		            "and deprecated ones are skipped)", ifname);
	return found ? 0 : -1;
}

int
hm_dyn_detect_interface(const HmDyndnsConf *d, const char *ifname, int family, HmIpAddr *out,
                        GError **err)
{
	if (if_nametoindex(ifname) == 0) {
		g_set_error(err, HM_ERROR, HM_ERROR_FAILED, "no interface %s", ifname);
		return -1;
	}
	return family == AF_INET ? find_v4(d, ifname, out, err) : find_v6(ifname, out, err);
}
