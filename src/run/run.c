/* vigil run: on each file that is complete (settled), run a command on it,
 * once, safely. See run.h for the rooms. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "linger.h"
#include "journal.h"
#include "run.h"

int cmd_run(int argc, char **argv)
{
	struct run run = {.epfd = -1, .sig = {.kind = SRC_SIGNAL, .fd = -1}, .notify_fd = -1};
	struct rule *rules = NULL;
	size_t n_rules = 0;
	int status = 1;

	/* The log leaves through log_flush() (see there) in one write() of
	 * whole lines, not a write per character as on an unbuffered
	 * stderr; 64 KiB holds a long JSON line of a batch whole. What
	 * cli_error() says leaves with it, before vigil waits, or at exit. */
	static char log_buf[1 << 16];
	setvbuf(stderr, log_buf, _IOFBF, sizeof(log_buf));
	/* Started with 0, 1 or 2 closed, the first pipe or watch would take
	 * its number, and the jobs, which inherit 1 and 2 and are given their
	 * 0, would read or write it: each gets /dev/null instead. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd)
			break;

	status = run_options(&run, argc, argv, &rules, &n_rules);
	if (status >= 0)
		goto out;
	status = 1;

	/* signals arrive through the loop, never in a handler */
	sigset_t *mask = &run.sig.mask;
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGUSR1);
	sigaddset(mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, mask, NULL);
	sigdelset(mask, SIGCHLD); /* read once a job has no pidfd */
	signal(SIGPIPE, SIG_IGN);
	run.epfd = epoll_create1(EPOLL_CLOEXEC);
	run.sig.fd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (run.epfd < 0 || run.sig.fd < 0 || epoll_add(&run, run.sig.fd, EPOLLIN, &run.sig) < 0) {
		cli_error("cannot set up the event loop: %s", cli_strerror(errno));
		goto out;
	}
	run.linger_kind = SRC_LINGER;
	int r = linger_new(&run.linger);
	if (r < 0 || (r = epoll_add(&run, linger_fd(run.linger), EPOLLIN, &run.linger_kind)) < 0) {
		cli_error("cannot set up the event loop: %s", cli_strerror(-r));
		goto out;
	}
	notify_init(&run);
	clock_gettime(CLOCK_REALTIME, &run.start);
	struct rule *taken = rules;
	rules = NULL;
	size_t n_taken = n_rules;
	n_rules = 0;
	if (load_rules(&run, taken, n_taken, &run.rules, &run.n_rules) < 0) {
		free(taken);
		goto out;
	}
	free(taken);
	if (start_rules(&run, run.rules, run.n_rules, NULL) < 0)
		goto out;
	if (!run.quiet)
		rule_say(&run, NULL, "watching: %zu rule%s", run.n_rules, run.n_rules == 1 ? "" : "s");
	notify(&run, "READY=1");
	notify_status(&run);
	if (loop(&run) == 0) {
		uint64_t ran, failed, paths;
		size_t waiting, running;
		counts(&run, &ran, &failed, &paths, &waiting, &running);
		rule_say(&run, NULL, "stopped: %llu jobs run, %llu failed, %llu paths seen, "
			 "%zu left waiting", (unsigned long long)ran, (unsigned long long)failed,
			 (unsigned long long)paths, waiting);
		status = run.state_error ? 1 : 0;
	}
out:
	for (size_t k = 0; k < run.n_rules; k++) {
		struct rrule *rr = run.rules[k];
		for (size_t j = 0; j < rr->n_jobs; j++) {
			job_fini(&rr->jobs[j]->j);
			free(rr->jobs[j]);
		}
		rrule_free(rr);
	}
	free(run.rules);
	while (run.outputs) /* what is there now, and no more */
		read_output(&run, run.outputs, true);
	linger_free(run.linger);
	/* what is left is committed: a stop by signal keeps what waits */
	for (size_t k = 0; k < run.n_journals; k++) {
		if ((journal_commit(run.journals[k]->j) < 0 || journal_flush(run.journals[k]->j) < 0) &&
		    !run.state_error) {
			log_flush(&run);
			cli_error("%s", journal_error(run.journals[k]->j));
			status = 1;
		}
		journal_close(run.journals[k]->j);
		vigil_free(run.journals[k]->v);
		free(run.journals[k]);
	}
	free(run.journals);
	if (rules)
		rules_free(rules, n_rules);
	if (run.sig.fd >= 0)
		close(run.sig.fd);
	if (run.epfd >= 0)
		close(run.epfd);
	if (run.notify_fd >= 0)
		close(run.notify_fd);
	log_flush(&run);
	return status;
}

