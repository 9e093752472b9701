/* A secret from the config: a password, a client secret, a token. */
#ifndef HM_SECRET_H
#define HM_SECRET_H

#include <glib.h>

/* A secret read from a password_file (or given inline). Never logged;
 * wiped by hm_secret_clear(). */
typedef struct {
	char *value;   /* NULL when none was configured, or it could not be read */
	char *file;    /* the file it came from, NULL when inline */
} HmSecret;

/* Wipes the secret's value and frees both fields. */
void hm_secret_clear(HmSecret *s);

#endif
