/* vigil_version(): the release, and the commit of a build from git
 * (version_string.h, made by meson.build's vcs_tag from
 * scripts/version-string). */
#include "vigil.h"
#include "version_string.h"

const char *vigil_version(void)
{
	return VIGIL_VERSION_STRING;
}
