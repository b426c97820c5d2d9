/* vigil wait --publish: events as messages to a broker (see
 * wait_publish.c). */
#ifndef VIGIL_WAIT_PUBLISH_H
#define VIGIL_WAIT_PUBLISH_H

#include <stdbool.h>

#include "mqtt.h"
#include "vigil.h"

struct wait_pub;

/* A publisher to URL (connecting in the background): 0, or -1 (said). */
int wait_pub_new(const char *url, const struct mqtt_opts *o, struct wait_pub **ret);
/* Close (what waits to be written goes first), and free. */
void wait_pub_free(struct wait_pub *p);
/* EV, as its --json object with "host", to the topic: now, or once the
 * broker is there. */
void wait_pub_event(struct wait_pub *p, const struct vigil_event *ev);
/* Wait up to MS (-1: no limit) until V (may be NULL) has events, doing
 * the connection's work meanwhile: 1 when V's fd is readable, 0, or a
 * negative errno. */
int wait_pub_wait(struct wait_pub *p, vigil *v, int ms);
/* Whether every event is the broker's. */
bool wait_pub_done(const struct wait_pub *p);

#endif
