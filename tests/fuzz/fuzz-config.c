/* libFuzzer target: the whole config loader (libconfig parse, integer-wrap
 * scan, every section reader) on arbitrary file contents. */
#include <config.h>

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/hmconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5's parser drops a string token's buffer when a syntax error
 * follows it (no bison %destructor): a leak of at most one token per failed
 * load, in the library, that no caller can free. Ours must stay visible. */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

static void
ignore_warning(const char *line, gpointer data)
{
	(void)line;
	(void)data;
}

/* libconfig opens @include files by name; a fuzzed "/dev/stdin" would
 * block the run, and the included file is not the input under test. */
static gboolean
has_include(const uint8_t *data, size_t size)
{
	return memmem(data, size, "@include", 8) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One file for the whole run: creating one per input would measure the
	 * file system, not the parser. */
	static char *path;
	static int fd = -1;
	GError *err = NULL;
	HmConfig *cfg;

	if (fd < 0) {
		fd = g_file_open_tmp("fuzz-config-XXXXXX.conf", &path, NULL);
		if (fd < 0)
			abort();
	}
	if (has_include(data, size))
		return 0;
	if (ftruncate(fd, 0) < 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	cfg = hm_config_load_flags(path, HM_CONFIG_SECRETS_OPTIONAL, ignore_warning, NULL, &err);
	if ((cfg == NULL) == (err == NULL))
		abort();
	hm_config_free(cfg);
	g_clear_error(&err);
	return 0;
}
