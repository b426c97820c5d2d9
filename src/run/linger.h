/* The process groups that jobs of `vigil run` left behind. A job is a
 * process group of its own; when its first process ends, others may still
 * run in it (a server put in the background with '&', a helper that
 * forked). They are kept track of here, so that a restart of the rule and
 * the stop of vigil stop them as they would have stopped the job.
 *
 * A group is known by its id, which the kernel gives to no other process
 * while one of its members lives. So a group is watched through a pidfd on
 * each member found when it was left (in /proc): when the last of those
 * ends, /proc is read again for members forked since, and the group is
 * forgotten once none is left, before its id can go to someone else.
 * Zombies do not count. Processes that left the group (setsid, setpgid)
 * are beyond reach. Without pidfds (before Linux 5.3, under valgrind), a
 * group is looked at every 20ms instead. */
#ifndef VIGIL_LINGER_H
#define VIGIL_LINGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct linger_list;

/* An empty list, with its own epoll fd. 0, or a negative errno. */
int linger_new(struct linger_list **ret);
void linger_free(struct linger_list *l);
/* Readable when a member of a group ends: then call linger_event(). */
int linger_fd(const struct linger_list *l);

/* The first process of group PGID, a job of rule RULE, has been reaped:
 * keep track of the rest, to be stopped with SIG and SIGKILL after
 * STOP_TIMEOUT_NS. KILL_AT is when SIGKILL is due if the job was being
 * stopped (0 if not; UINT64_MAX if it had SIGKILL). Returns 1 when
 * processes are left, 0 when none is, or a negative errno. */
int linger_add(struct linger_list *l, pid_t pgid, const char *rule, int sig,
	       uint64_t stop_timeout_ns, uint64_t kill_at);
/* Stop the groups of RULE (of every rule when NULL) that are not being
 * stopped yet: their stop signal now, SIGKILL after their timeout. */
void linger_stop(struct linger_list *l, const char *rule, uint64_t now);
/* Members ended (linger_fd() was readable): forget the groups left empty. */
void linger_event(struct linger_list *l);
/* SIGKILL the groups whose time is up. Returns when to call again (0: no
 * deadline, nothing to look at). */
uint64_t linger_check(struct linger_list *l, uint64_t now);
/* How many groups of RULE (of every rule when NULL) are kept track of. */
size_t linger_count(const struct linger_list *l, const char *rule);

#endif
