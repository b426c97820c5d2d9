/* Opening a directory below another without following links (crawl.c,
 * where the engine opens what it watches; source_poll.c, where a polled
 * directory is opened again each interval). */
#ifndef VIGIL_BENEATH_H
#define VIGIL_BENEATH_H

/* Open the directory REL below DIRFD ("" for DIRFD itself), following no
 * symbolic link; MODE is O_RDONLY or O_PATH (no event on the directory,
 * and nothing to list). A descriptor, or a negative errno. */
int open_beneath(int dirfd, const char *rel, int mode);

#endif
