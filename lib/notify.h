/* Readiness for a service manager: systemd's Type=notify, and `homemail
 * up`, which speaks the same protocol to the children it waits for. */
#ifndef HM_NOTIFY_H
#define HM_NOTIFY_H

/* Says READY=1 to $NOTIFY_SOCKET, if set: the listeners of the program
 * (named by who, for the error) are open. Logs an error when it cannot;
 * does nothing in a build without libsystemd. */
void hm_notify_ready(const char *who);

#endif
