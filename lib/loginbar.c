#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "error.h"
#include "loginbar.h"

/* Addresses tracked at once. Each slot is ~64 bytes, so the whole table
 * is 64 KiB; when it is full the slot whose window started first is
 * reused, so a flood of addresses costs the oldest entries, never memory. */
#define BAR_SLOTS 1024
/* How often a waiting reservation looks again: a password check takes
 * tens of milliseconds. */
#define BAR_POLL_MS 10

typedef struct {
	char addr[48];        /* numeric address (INET6_ADDRSTRLEN fits) */
	gint64 start;         /* monotonic seconds: start of the window */
	guint fails;          /* failed checks in the window */
	guint busy;           /* checks reserved and not ended */
} Slot;

typedef struct {
	pthread_mutex_t lock; /* process-shared and robust: a session killed
	                       * while holding it does not block the others */
	guint max_fails;
	guint window_s;
	Slot slots[BAR_SLOTS];
} Shared;

struct HmLoginBar {
	Shared *sh;
};

HmLoginBar *
hm_login_bar_new(guint max_fails, guint window_s, GError **err)
{
	pthread_mutexattr_t attr;
	HmLoginBar *bar;
	Shared *sh = mmap(NULL, sizeof(Shared), PROT_READ | PROT_WRITE,
	                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sh == MAP_FAILED) {
		hm_set_error_errno(err, errno, "login bar: mmap");
		return NULL;
	}
	memset(sh, 0, sizeof(*sh));
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&sh->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	sh->max_fails = max_fails;
	sh->window_s = window_s;
	bar = g_new0(HmLoginBar, 1);
	bar->sh = sh;
	return bar;
}

void
hm_login_bar_free(HmLoginBar *bar)
{
	if (bar == NULL)
		return;
	munmap(bar->sh, sizeof(Shared));
	g_free(bar);
}

static void
lock(Shared *sh)
{
	/* The holder died mid-update: at worst one count is off by one. */
	if (pthread_mutex_lock(&sh->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&sh->lock);
}

static gint64
now_s(void)
{
	return g_get_monotonic_time() / G_USEC_PER_SEC;
}

/* The slot of addr with its window brought up to date, or NULL when there
 * is none and create is FALSE. Called with the lock held. */
static Slot *
find(Shared *sh, const char *addr, gboolean create)
{
	gint64 now = now_s();
	Slot *found = NULL, *spare = NULL;

	for (guint i = 0; i < BAR_SLOTS && found == NULL; i++) {
		Slot *s = &sh->slots[i];

		if (s->addr[0] != '\0' && now - s->start >= sh->window_s)
			memset(s, 0, sizeof(*s));  /* window over (stale reservations too) */
		if (s->addr[0] != '\0' && strcmp(s->addr, addr) == 0)
			found = s;
		else if (spare == NULL || (spare->addr[0] != '\0' &&
		                           (s->addr[0] == '\0' || s->start < spare->start)))
			spare = s;
	}
	if (found != NULL || !create)
		return found;
	memset(spare, 0, sizeof(*spare));
	g_strlcpy(spare->addr, addr, sizeof(spare->addr));
	spare->start = now;
	return spare;
}

gboolean
hm_login_bar_barred(HmLoginBar *bar, const char *addr)
{
	Slot *s;
	gboolean barred;

	lock(bar->sh);
	s = find(bar->sh, addr, FALSE);
	barred = s != NULL && s->fails >= bar->sh->max_fails;
	pthread_mutex_unlock(&bar->sh->lock);
	return barred;
}

gboolean
hm_login_bar_begin(HmLoginBar *bar, const char *addr, int wait_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)MAX(wait_ms, 0) * 1000;

	for (;;) {
		Slot *s;
		int verdict;  /* 1 reserved, 0 barred, -1 wait */

		lock(bar->sh);
		s = find(bar->sh, addr, TRUE);
		if (s->fails >= bar->sh->max_fails) {
			verdict = 0;
		} else if (s->fails + s->busy < bar->sh->max_fails) {
			s->busy++;
			verdict = 1;
		} else {
			verdict = -1;
		}
		pthread_mutex_unlock(&bar->sh->lock);
		if (verdict >= 0)
			return verdict == 1;
		if (g_get_monotonic_time() >= deadline)
			return FALSE;
		g_usleep(BAR_POLL_MS * 1000);
	}
}

void
hm_login_bar_end(HmLoginBar *bar, const char *addr, gboolean failed)
{
	Slot *s;

	lock(bar->sh);
	/* Gone only when its window ended meanwhile: nothing left to count. */
	if ((s = find(bar->sh, addr, failed)) != NULL) {
		if (s->busy > 0)
			s->busy--;
		if (failed)
			s->fails++;
		if (s->fails == 0 && s->busy == 0)
			memset(s, 0, sizeof(*s));
	}
	pthread_mutex_unlock(&bar->sh->lock);
}
