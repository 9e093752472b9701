/* What `homemail setup` proposes before it is told: the host's name, the
 * LAN address and network, the person running it. */
#include <config.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/setup.h"

char *
hm_setup_detect_hostname(void)
{
	char name[256];
	struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *res = NULL;
	char *fqdn;

	if (gethostname(name, sizeof(name)) < 0)
		return g_strdup("localhost");
	name[sizeof(name) - 1] = '\0';
	if (strchr(name, '.') != NULL || getaddrinfo(name, NULL, &hints, &res) != 0)
		return g_ascii_strdown(name, -1);
	fqdn = g_ascii_strdown(res->ai_canonname != NULL ? res->ai_canonname : name, -1);
	freeaddrinfo(res);
	return fqdn;
}

static guint
prefix_len(const struct sockaddr_in *mask)
{
	guint32 m = ntohl(mask->sin_addr.s_addr);
	guint n = 0;

	while (n < 32 && (m & (0x80000000u >> n)) != 0)
		n++;
	return n;
}

gboolean
hm_setup_detect_lan(char **address, char **network)
{
	struct ifaddrs *ifs, *i;
	gboolean found = FALSE;

	if (getifaddrs(&ifs) < 0)
		return FALSE;
	for (i = ifs; i != NULL && !found; i = i->ifa_next) {
		const struct sockaddr_in *a = (const void *)i->ifa_addr;
		char text[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN];
		struct in_addr n;
		guint len;

		if (a == NULL || a->sin_family != AF_INET || i->ifa_netmask == NULL ||
		    (i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0)
			continue;
		len = prefix_len((const void *)i->ifa_netmask);
		n.s_addr =
			a->sin_addr.s_addr &
			((const struct sockaddr_in *)(const void *)i->ifa_netmask)->sin_addr.s_addr;
		inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
		inet_ntop(AF_INET, &n, net, sizeof(net));
		*address = g_strdup(text);
		*network = g_strdup_printf("%s/%u", net, len);
		found = TRUE;
	}
	freeifaddrs(ifs);
	return found;
}

char *
hm_setup_detect_user(void)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw;

	if (sudo != NULL && *sudo != '\0' && strcmp(sudo, "root") != 0)
		return g_strdup(sudo);
	if (getuid() == 0 || (pw = getpwuid(getuid())) == NULL)
		return NULL;
	return g_strdup(pw->pw_name);
}

gboolean
hm_setup_service_user_exists(void)
{
	return getpwnam("homemail") != NULL;
}
