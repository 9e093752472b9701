/* lib/dl: libraries opened at first use (lib/curl-load.c, lib/json-load.c,
 * lib/ssl-load.c, lib/ldns-load.c). */
#include <config.h>

#include <math.h>
#include <string.h>

#include "lib/dl.h"

static struct {
	double (*cos)(double);
	double (*sqrt)(double);
} fn;

static const HmDlSym syms[] = {
	{ "cos", &fn.cos, sizeof(fn.cos) },
	{ "sqrt", &fn.sqrt, sizeof(fn.sqrt) },
};

static const HmDlSym missing[] = {
	{ "cos", &fn.cos, sizeof(fn.cos) },
	{ "hm_no_such_function", &fn.sqrt, sizeof(fn.sqrt) },
};

static void
test_open(void)
{
	g_autofree char *why = hm_dl_open("libm.so.6", syms, G_N_ELEMENTS(syms));

	g_assert_null(why);
	g_assert_cmpfloat(fn.sqrt(49.0), ==, 7.0);
	g_assert_cmpfloat(fn.cos(0.0), ==, 1.0);
}

static void
test_open_fails(void)
{
	g_autofree char *no_lib = hm_dl_open("libhm-no-such.so.9", syms, G_N_ELEMENTS(syms));
	g_autofree char *no_sym = hm_dl_open("libm.so.6", missing, G_N_ELEMENTS(missing));

	g_assert_nonnull(strstr(no_lib, "libhm-no-such.so.9"));
	g_assert_cmpstr(no_sym, ==, "libm.so.6 has no hm_no_such_function");
}

/* A forwarder cannot report "not loaded": the process ends, saying which
 * library and which package; a library that loads is opened once. */
static void
test_require(void)
{
	static GOnce once = G_ONCE_INIT;

	if (g_test_subprocess()) {
		static GOnce bad = G_ONCE_INIT;

		hm_dl_require(&bad, "libhm-no-such.so.9", syms, G_N_ELEMENTS(syms), "hm-no-such9");
		return;
	}
	g_test_trap_subprocess(NULL, 0, 0);
	g_test_trap_assert_failed();
	g_test_trap_assert_stderr("*cannot load libhm-no-such.so.9*hm-no-such9*");
	fn.sqrt = NULL;
	hm_dl_require(&once, "libm.so.6", syms, G_N_ELEMENTS(syms), "libc6");
	g_assert_cmpfloat(fn.sqrt(4.0), ==, 2.0);
	fn.sqrt = NULL;
	hm_dl_require(&once, "libm.so.6", syms, G_N_ELEMENTS(syms), "libc6");
	g_assert_null(fn.sqrt);  /* not looked up again */
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dl/open", test_open);
	g_test_add_func("/dl/open-fails", test_open_fails);
	g_test_add_func("/dl/require", test_require);
	return g_test_run();
}
