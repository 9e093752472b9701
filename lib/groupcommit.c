#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "groupcommit.h"

/* How long a waiter sleeps before it looks whether the leader still
 * lives: a syncfs takes about a millisecond, a dead leader is rare. */
#define GC_WAIT_MS 50
/* Failed flushes remembered: a waiter looks after each wake-up, so it
 * would have to sleep through this many failures to miss its own. */
#define GC_FAILS 16

typedef struct {
	guint64 lo, hi;        /* tickets the failed flush covered */
	int errnum;
} Failure;

typedef struct {
	pthread_mutex_t lock;  /* process-shared, robust */
	pthread_cond_t done_cv;
	guint64 requested;     /* tickets handed out */
	guint64 done;          /* every ticket <= done has been flushed */
	Failure fails[GC_FAILS]; /* a ring of the last failures */
	guint n_fails;
	int last_errno;
	gboolean poison_next;  /* the flush after a failure fails its tickets too */
	pid_t leader;          /* 0: no flush running */
	guint64 flushes, callers;
} Shared;

struct HmGroupCommit {
	Shared *sh;
	int dirfd;
	char *dir;
};

HmGroupCommit *
hm_group_commit_new(const char *dir, GError **err)
{
	pthread_mutexattr_t mattr;
	pthread_condattr_t cattr;
	HmGroupCommit *gc;
	Shared *sh;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		hm_set_error_errno(err, errno, "%s: cannot open", dir);
		return NULL;
	}
	sh = mmap(NULL, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		int saved = errno;

		close(fd);
		hm_set_error_errno(err, saved, "group commit: mmap");
		return NULL;
	}
	memset(sh, 0, sizeof(*sh));
	pthread_mutexattr_init(&mattr);
	pthread_mutexattr_setpshared(&mattr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&mattr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&sh->lock, &mattr);
	pthread_mutexattr_destroy(&mattr);
	pthread_condattr_init(&cattr);
	pthread_condattr_setpshared(&cattr, PTHREAD_PROCESS_SHARED);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&sh->done_cv, &cattr);
	pthread_condattr_destroy(&cattr);
	gc = g_new0(HmGroupCommit, 1);
	gc->sh = sh;
	gc->dirfd = fd;
	gc->dir = g_strdup(dir);
	return gc;
}

void
hm_group_commit_free(HmGroupCommit *gc)
{
	if (gc == NULL)
		return;
	munmap(gc->sh, sizeof(Shared));
	close(gc->dirfd);
	g_free(gc->dir);
	g_free(gc);
}

/* Returns with the lock held. A holder that died mid-update can only
 * have left counters that are consistent (each is one store). */
static void
lock(Shared *sh)
{
	if (pthread_mutex_lock(&sh->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&sh->lock);
}

static void
wait_a_while(Shared *sh)
{
	struct timespec until;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += GC_WAIT_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	rc = pthread_cond_timedwait(&sh->done_cv, &sh->lock, &until);
	if (rc == EOWNERDEAD)
		pthread_mutex_consistent(&sh->lock);
}

static gboolean
leader_gone(pid_t pid)
{
	return pid == 0 || (kill(pid, 0) < 0 && errno == ESRCH);
}

/* Runs one flush as the leader for every ticket handed out so far. Called
 * and returns with the lock held; drops it during the syncfs. */
static void
lead(HmGroupCommit *gc)
{
	Shared *sh = gc->sh;
	guint64 from = sh->done + 1, target = sh->requested;
	int rc, saved = 0;

	sh->leader = getpid();
	pthread_mutex_unlock(&sh->lock);
	rc = syncfs(gc->dirfd);
	if (rc < 0)
		saved = errno;
	lock(sh);
	if (rc < 0 || sh->poison_next) {
		Failure *f = &sh->fails[sh->n_fails++ % GC_FAILS];

		if (rc < 0)
			sh->last_errno = saved;
		f->lo = from;
		f->hi = rc < 0 ? sh->requested : target;
		f->errnum = sh->last_errno;
	}
	sh->poison_next = rc < 0;
	if (target > sh->done)
		sh->done = target;
	sh->leader = 0;
	sh->flushes++;
	pthread_cond_broadcast(&sh->done_cv);
}

int
hm_group_commit_sync(HmGroupCommit *gc, GError **err)
{
	Shared *sh = gc->sh;
	guint64 mine;
	int failed_errno = 0;

	lock(sh);
	mine = ++sh->requested;
	sh->callers++;
	while (sh->done < mine) {
		if (leader_gone(sh->leader))
			lead(gc);
		else
			wait_a_while(sh);
	}
	for (guint i = 0; i < GC_FAILS && i < sh->n_fails; i++)
		if (mine >= sh->fails[i].lo && mine <= sh->fails[i].hi)
			failed_errno = sh->fails[i].errnum;
	pthread_mutex_unlock(&sh->lock);
	if (failed_errno != 0) {
		hm_set_error_errno(err, failed_errno, "%s: syncfs", gc->dir);
		return -1;
	}
	return 0;
}

void
hm_group_commit_stats(HmGroupCommit *gc, guint64 *flushes, guint64 *callers)
{
	lock(gc->sh);
	*flushes = gc->sh->flushes;
	*callers = gc->sh->callers;
	pthread_mutex_unlock(&gc->sh->lock);
}
