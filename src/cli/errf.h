/* A message for a caller to say, made as printf() makes it: the ERR
 * out-parameters of the parsers of broker URLs (mqtt_url.c), MQTT
 * connections (mqtt_conn.c) and rules (src/run/rule.c). */
#ifndef VIGIL_ERRF_H
#define VIGIL_ERRF_H

/* The message (to be freed), or NULL when memory ran out. It is made with
 * malloc(), so that the unit tests' allocation failures reach it too. */
__attribute__((format(printf, 1, 2)))
char *errf(const char *fmt, ...);

#endif
