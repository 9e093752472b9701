/* What inject.c shares with the injectors: the descriptor each one fills
 * (smtp, lmtp, local; STYLE.md: variants are descriptor structs) and the
 * injector handle they hang their state on. */
#ifndef HM_FETCH_INJECT_PRIVATE_H
#define HM_FETCH_INJECT_PRIVATE_H

#include "fetcher/inject.h"

typedef struct {
	const char *name;   /* "smtp", "lmtp", "local" */

	/* Sets up inj->priv for inj->cfg (connecting, for smtp/lmtp). Returns
	 * 0, or -1 with *err set to a one-line reason without the
	 * description (inject.c adds it). */
	int (*open)(HmInjector *inj, GError **err);

	/* As hm_injector_send(). */
	HmInjectResult (*send)(HmInjector *inj, const char *sender, const char *rcpt,
	                       const char *head, gsize head_len, const char *msg, gsize len,
	                       GError **err);

	/* Optional (group commit, local delivery only): as hm_injector_stage()
	 * and hm_injector_sync(). */
	HmInjectResult (*stage)(HmInjector *inj, const char *sender, const char *rcpt,
	                        const char *head, gsize head_len, const char *msg, gsize len,
	                        HmDeliverStaged *staged, GError **err);
	int (*sync)(HmInjector *inj, GError **err);

	/* Optional (smtp only): as hm_injector_can_queue(), hm_injector_queue()
	 * and hm_injector_collect(). */
	gboolean (*can_queue)(HmInjector *inj);
	HmInjectResult (*queue)(HmInjector *inj, const char *sender, const char *rcpt,
	                        const char *head, gsize head_len, const char *msg, gsize len,
	                        GError **err);
	void (*collect)(HmInjector *inj, HmInjectResult *results, GError **errors, guint n);

	/* Ends politely (QUIT) and frees inj->priv; inj itself stays. */
	void (*close)(HmInjector *inj);
} HmInjectorOps;

struct HmInjector {
	const HmInjectorOps *ops;
	const HmConfig *cfg;
	char *describe;      /* "smtp:127.0.0.1:25", "lmtp:/run/lmtp", "local" */
	gpointer priv;       /* the injector's own state */
};

extern const HmInjectorOps hm_injector_smtp;
extern const HmInjectorOps hm_injector_lmtp;
extern const HmInjectorOps hm_injector_local;

#endif
