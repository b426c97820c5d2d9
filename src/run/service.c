/* systemd's notification protocol (sd_notify(3), without libsystemd):
 * READY=1, RELOADING=1, STOPPING=1, STATUS=. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "run.h"

void notify_init(struct run *run)
{
	run->notify_fd = -1;
	const char *sock = getenv("NOTIFY_SOCKET");
	if (!sock || !*sock || strlen(sock) >= sizeof(run->notify_addr.sun_path))
		return;
	if (sock[0] != '/' && sock[0] != '@')
		return;
	run->notify_addr.sun_family = AF_UNIX;
	size_t len = strlen(sock);
	memcpy(run->notify_addr.sun_path, sock, len);
	if (sock[0] == '@')
		run->notify_addr.sun_path[0] = '\0'; /* the abstract namespace */
	run->notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	run->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void notify(struct run *run, const char *fmt, ...)
{
	if (run->notify_fd < 0)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0)
		sendto(run->notify_fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1,
		       MSG_NOSIGNAL, (struct sockaddr *)&run->notify_addr, run->notify_len);
}

void counts(const struct run *run, uint64_t *ran, uint64_t *failed,
	    uint64_t *paths, size_t *waiting, size_t *running)
{
	*ran = *failed = *paths = 0;
	*waiting = *running = 0;
	for (size_t i = 0; i < run->n_rules; i++) {
		const struct rrule *rr = run->rules[i];
		*ran += rr->n_run;
		*failed += rr->n_failed;
		*paths += rr->n_paths;
		*waiting += rr->store ? store_waiting(rr->store) : 0;
		*running += rr->n_jobs;
	}
}

void notify_status(struct run *run)
{
	uint64_t ran, failed, paths;
	size_t waiting, running;
	counts(run, &ran, &failed, &paths, &waiting, &running);
	notify(run, "STATUS=%llu jobs run, %llu failed, %llu paths seen; %zu running, %zu waiting",
	       (unsigned long long)ran, (unsigned long long)failed,
	       (unsigned long long)paths, running, waiting);
}

