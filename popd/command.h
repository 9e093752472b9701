/* POP3 command lines (RFC 1939 section 3): keyword and arguments. */
#ifndef POPD_COMMAND_H
#define POPD_COMMAND_H

#include <glib.h>

#define POP3_MAX_ARGS 2

typedef struct {
	char keyword[5];             /* upper-cased, 3-4 letters */
	const char *args[POP3_MAX_ARGS];
	int nargs;
	const char *rest;            /* everything after "KEYWORD " (PASS takes
	                              * it whole, spaces included) or "" */
} Pop3Command;

/* Parses line (NUL-terminated, without CRLF; modified in place). The
 * keyword is 3-4 ASCII letters; arguments are separated by single spaces,
 * at most POP3_MAX_ARGS of at most POPD_ARG_MAX printable octets — except
 * that rest keeps the unsplit remainder. Returns 0, or -1 with *why set to
 * a static reason for the -ERR reply. */
int pop3_command_parse(char *line, Pop3Command *cmd, const char **why);

/* Parses a message number: decimal, 1..max, no sign or junk ("LIST
 * 4294967297" is not "LIST 1"). Returns 0 or -1. */
int pop3_parse_msgnum(const char *arg, guint max, guint *out);

#endif
