/* /proc/PID/fdinfo/FD of an inotify fd, as vigil usage reads it
 * (usage_parse_fdinfo()). Any text: every "inotify " line counted, with
 * details a watch each, a handle only whole. And what the kernel writes
 * (fs/notify/fdinfo.c) reads back field for field.
 * Input: first byte even, the text; odd, the fields of a watch line. */
#include <sys/sysmacros.h>

#include "fuzz.h"
#include "usage.h"

static void free_inst(struct usage_instance *inst)
{
	for (size_t i = 0; inst->watches && i < inst->n_watches; i++)
		free(inst->watches[i].handle);
	free(inst->watches);
	free(inst->fs);
}

static void check_text(const char *text, size_t len, bool details)
{
	struct usage_instance inst = {0};
	fuzz_assert(usage_parse_fdinfo(text, len, details, &inst) == 0, "failed");
	/* the model: lines as C strings see them (a NUL ends one too) */
	size_t want = 0;
	for (const char *line = text; line < text + len;) {
		size_t n = strcspn(line, "\n");
		want += n > 8 && memcmp(line, "inotify ", 8) == 0;
		line += n + 1;
	}
	fuzz_assert(inst.n_watches == want, "%zu watches, want %zu", inst.n_watches, want);
	for (size_t i = 0; details && i < inst.n_watches; i++) {
		const struct usage_watch *w = &inst.watches[i];
		fuzz_assert(!w->handle == !w->handle_bytes && w->handle_bytes <= 128,
			    "watch %zu: handle %p of %u bytes", i, (void *)w->handle, w->handle_bytes);
	}
	fuzz_assert(details || !inst.watches, "watches kept without details");
	free_inst(&inst);
}

/* A line as the kernel writes it, and each field read back. */
static void check_kernel_line(struct fuzz_in *in)
{
	uint32_t wd = fuzz_u32(in) & 0x7fffffff, mask = fuzz_u32(in), ignored = fuzz_u32(in);
	uint64_t ino = (uint64_t)fuzz_u32(in) << 32 | fuzz_u32(in);
	uint32_t major = fuzz_u32(in) & 0xfff, minor = fuzz_u32(in) & 0xfffff;
	uint8_t nbytes = fuzz_u8(in) % 129, type = fuzz_u8(in);
	unsigned char handle[128];
	for (unsigned i = 0; i < nbytes; i++)
		handle[i] = fuzz_u8(in);
	char text[1024];
	int n = snprintf(text, sizeof(text),
			 "pos:\t0\nflags:\t02004000\nmnt_id:\t15\nino:\t1057\n"
			 "inotify wd:%x ino:%llx sdev:%x mask:%x ignored_mask:%x",
			 wd, (unsigned long long)ino, major << 20 | minor, mask, ignored);
	if (nbytes) {
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      " fhandle-bytes:%x fhandle-type:%x f_handle:", nbytes, type);
		for (unsigned i = 0; i < nbytes; i++)
			n += snprintf(text + n, sizeof(text) - (size_t)n, "%02x", handle[i]);
	}
	n += snprintf(text + n, sizeof(text) - (size_t)n, "\n");
	struct usage_instance inst = {0};
	fuzz_assert(usage_parse_fdinfo(text, (size_t)n, true, &inst) == 0, "failed");
	fuzz_assert(inst.n_watches == 1, "%zu watches in '%s'", inst.n_watches, text);
	const struct usage_watch *w = &inst.watches[0];
	fuzz_assert((uint32_t)w->wd == wd && w->mask == mask && w->ino == ino &&
		    major(w->dev) == major && minor(w->dev) == minor,
		    "'%s' read as wd %x mask %x ino %llx dev %u:%u", text, w->wd, w->mask,
		    (unsigned long long)w->ino, major(w->dev), minor(w->dev));
	fuzz_assert(w->handle_bytes == nbytes && (!nbytes || (w->handle_type == type &&
		    memcmp(w->handle, handle, nbytes) == 0)), "'%s': the handle read wrong", text);
	free_inst(&inst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t mode = fuzz_u8(&in);
	if (mode & 1) {
		check_kernel_line(&in);
		return 0;
	}
	size_t len;
	char *text = fuzz_rest(&in, &len);
	check_text(text, len, mode & 2);
	free(text);
	return 0;
}
