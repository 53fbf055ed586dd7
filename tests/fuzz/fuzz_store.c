/*
 * fuzz_store.c - libFuzzer target for damaged store files, built once per
 * file backend (FUZZ_BACKEND "sqlite": the database file; "lmdb": data.mdb).
 * A small valid store is made at start-up; each input is a list of patches
 * applied to a copy of its file, which is then opened, listed, fsck'd,
 * compiled, logged and written to (one commit). Every call ends in success
 * or a documented error code with a message, never in a crash.
 *
 * Input: one header byte (bit 0: truncate the file after patching at the
 * offset of the first patch, unless TRACT_FUZZ_NO_TRUNCATE=1), then patches
 * of [offset: 3 bytes, little endian, modulo the file size][n: 1 byte,
 * 1 + n % 64 bytes follow][bytes].
 */
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "tract/commit.h"
#include "tract/compile.h"
#include "tract/fsck.h"
#include "tract/store.h"

#ifndef FUZZ_BACKEND
#define FUZZ_BACKEND "sqlite"
#endif

static int is_lmdb, no_truncate;
static char dir[128], seed_uri[256], work_uri[512], work_file[512], work_dir[256];
static uint8_t *seed;
static size_t seed_size;

static void setup_fail(const char *what)
{
	fprintf(stderr, "fuzz_store: %s: %s\n", what, tract_error_last()->message);
	exit(1);
}

static void say(tract *t, const char *role, const char *text)
{
	if (tract_commit_create_dialogue(NULL, t, role, text, NULL, NULL) != 0)
		setup_fail("commit");
}

static void make_seed(void)
{
	tract_store *s;
	tract *t;
	char path[300];
	FILE *f;
	struct stat st;

	if (tract_store_open(&s, seed_uri, TRACT_STORE_CREATE) != 0)
		setup_fail("create the seed store");
	if (tract_create(&t, s, "t", "fuzz", NULL) != 0)
		setup_fail("create the tract");
	if (tract_commit_create_instruction(NULL, t, "Be brief.", NULL) != 0)
		setup_fail("commit");
	say(t, "user", "hello");
	say(t, "assistant", "hi there");
	if (tract_commit_create(NULL, t,
				"{\"content_type\":\"tool_io\",\"tool_name\":\"ls\","
				"\"direction\":\"call\","
				"\"payload\":{\"path\":\"/\",\"n\":[1,2.5]}}",
				NULL) != 0)
		setup_fail("commit tool_io");
	say(t, "user", "bye");
	tract_free(t);
	if (tract_create(&t, s, "u", NULL, NULL) != 0)
		setup_fail("create a second tract");
	say(t, "user", "another tract");
	tract_free(t);
	tract_store_free(s);
	snprintf(path, sizeof(path), is_lmdb ? "%s/seed/data.mdb" : "%s/seed.db", dir);
	if (stat(path, &st) != 0 || !(f = fopen(path, "rb")))
		setup_fail("read the seed file");
	seed_size = (size_t)st.st_size;
	if (!(seed = malloc(seed_size)) || fread(seed, 1, seed_size, f) != seed_size)
		setup_fail("read the seed file");
	fclose(f);
}

static void rm_work(void)
{
	char p[800];

	if (is_lmdb) {
		/* the environment directory and whatever the backend made in it */
		DIR *d = opendir(work_dir);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", work_dir, e->d_name);
			unlink(p);
		}
		if (d)
			closedir(d);
		rmdir(work_dir);
		return;
	}
	unlink(work_file);
	snprintf(p, sizeof(p), "%s-wal", work_file);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", work_file);
	unlink(p);
	snprintf(p, sizeof(p), "%s-journal", work_file);
	unlink(p);
}

static void cleanup(void) __attribute__((destructor));
static void cleanup(void)
{
	char p[800];

	if (!dir[0])
		return;
	rm_work();
	if (is_lmdb) {
		snprintf(p, sizeof(p), "%s/seed/data.mdb", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/seed/lock.mdb", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/seed", dir);
		rmdir(p);
	} else {
		snprintf(p, sizeof(p), "%s/seed.db", dir);
		unlink(p);
	}
	rmdir(dir);
	free(seed);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	is_lmdb = strcmp(FUZZ_BACKEND, "lmdb") == 0;
	/* TRACT_FUZZ_NO_TRUNCATE=1: patches only (a truncated data.mdb is
	 * mapped past its end by liblmdb: SIGBUS, see README.md) */
	no_truncate = getenv("TRACT_FUZZ_NO_TRUNCATE") && *getenv("TRACT_FUZZ_NO_TRUNCATE") == '1';
	snprintf(dir, sizeof(dir), "%.64s/tract-fuzz-%s-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", FUZZ_BACKEND);
	if (!mkdtemp(dir)) {
		perror("fuzz_store: mkdtemp");
		exit(1);
	}
	if (is_lmdb) {
		snprintf(seed_uri, sizeof(seed_uri), "lmdb:%s/seed", dir);
		snprintf(work_dir, sizeof(work_dir), "%s/work", dir);
		snprintf(work_uri, sizeof(work_uri), "lmdb:%s", work_dir);
		snprintf(work_file, sizeof(work_file), "%s/data.mdb", work_dir);
	} else {
		snprintf(seed_uri, sizeof(seed_uri), "%s/seed.db", dir);
		snprintf(work_file, sizeof(work_file), "%s/work.db", dir);
		snprintf(work_uri, sizeof(work_uri), "%s", work_file);
	}
	make_seed();
	return 0;
}

/* rc is 0 or a documented code, and an error comes with a message. */
static void expect(int rc, const char *what)
{
	if (!fz_rc_in(rc, TRACT_ERROR, TRACT_ENOTFOUND, TRACT_EINVAL, TRACT_ESTALE,
		      TRACT_EBUDGET, TRACT_EDETACHED, TRACT_ESTORAGE, TRACT_ENOMEM, TRACT_ECORRUPT,
		      TRACT_EEDIT, TRACT_EEXISTS, TRACT_EVERSION, TRACT_EAMBIGUOUS, 1))
		fz_fail("%s returned %d", what, rc);
	if (rc != 0 && !tract_error_last()->message[0])
		fz_fail("%s failed (%d) without a message", what, rc);
}

static void write_work(const uint8_t *data, size_t size)
{
	uint8_t *file = malloc(seed_size);
	size_t i = 1, len = seed_size, first = (size_t)-1;
	FILE *f;

	if (!file)
		abort();
	memcpy(file, seed, seed_size);
	while (i + 4 <= size) {
		size_t off = (data[i] | data[i + 1] << 8 | (size_t)data[i + 2] << 16) % seed_size;
		size_t n = 1 + data[i + 3] % 64, k;
		i += 4;
		if (first == (size_t)-1)
			first = off;
		for (k = 0; k < n && i < size && off + k < seed_size; k++)
			file[off + k] = data[i++];
	}
	if (size > 0 && (data[0] & 1) && first != (size_t)-1 && !no_truncate)
		len = first;
	rm_work();
	if (is_lmdb && mkdir(work_dir, 0700) != 0) {
		perror("fuzz_store: mkdir");
		abort();
	}
	if (!(f = fopen(work_file, "wb")) || fwrite(file, 1, len, f) != len || fclose(f) != 0) {
		perror("fuzz_store: write");
		abort();
	}
	free(file);
}

static void use_tract(tract_store *s, const char *id)
{
	tract_context *ctx = NULL;
	tract_commit_list *log = NULL;
	tract_status *st = NULL;
	tract *t = NULL;
	int rc;

	rc = tract_open(&t, s, id, NULL);
	expect(rc, "open tract");
	if (rc != 0)
		return;
	expect(tract_context_compile(&ctx, t, NULL), "compile");
	tract_context_free(ctx);
	expect(tract_log_list(&log, t, NULL), "log");
	tract_commit_list_free(log);
	expect(tract_status_get(&st, t), "status");
	tract_status_free(st);
	expect(tract_commit_create_dialogue(NULL, t, "user", "one more", NULL, NULL), "commit");
	ctx = NULL;
	expect(tract_context_compile(&ctx, t, NULL), "compile after commit");
	tract_context_free(ctx);
	tract_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tract_info_list *list = NULL;
	tract_fsck_report *rep = NULL;
	tract_store *s = NULL;
	int rc;

	if (!seed)
		LLVMFuzzerInitialize(NULL, NULL);
	write_work(data, size);
	rc = tract_store_open(&s, work_uri, 0);
	expect(rc, "open store");
	if (rc != 0)
		return 0;
	expect(tract_store_list_tracts(&list, s), "list tracts");
	tract_info_list_free(list);
	expect(tract_fsck_run(&rep, s), "fsck");
	tract_fsck_report_free(rep);
	use_tract(s, "t");
	use_tract(s, "u");
	rep = NULL;
	expect(tract_fsck_run(&rep, s), "fsck after the writes");
	tract_fsck_report_free(rep);
	tract_store_free(s);
	return 0;
}
