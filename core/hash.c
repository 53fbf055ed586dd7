/*
 * hash.c - SHA-256 through OpenSSL's libcrypto and the commit hash
 * (J-CANON of {content_hash, content_type, operation, parent_hash,
 * [parent_hashes], [response_to], timestamp_iso}).
 */
#include "hash.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "json.h"
#include "timeutil.h"

/* OpenSSL 3 looks the algorithm up on every EVP_sha256() use; fetch once. */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int tract_sha256_hex(char out[65], const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int mdlen = 0;
	int i;

	pthread_once(&sha256_once, fetch_sha256);
	if (!sha256_md || !EVP_Digest(data, len, md, &mdlen, sha256_md, NULL) || mdlen != 32)
		return tract_error_set(TRACT_ERROR, "SHA-256 failed in libcrypto");
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

static void hex_of(char out[65], const unsigned char md[32])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

static int digest_sink(void *ctx, const char *data, size_t len)
{
	return EVP_DigestUpdate((EVP_MD_CTX *)ctx, data, len) ? 0 : TRACT_ERROR;
}

int tract_json_sha256_hex(char out[65], const cJSON *item, tract_json_style style)
{
	EVP_MD_CTX *ctx;
	unsigned char md[32];
	unsigned int mdlen = 0;
	int rc;

	pthread_once(&sha256_once, fetch_sha256);
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return tract_error_oom();
	rc = sha256_md && EVP_DigestInit_ex(ctx, sha256_md, NULL) ? 0 : TRACT_ERROR;
	if (rc == 0)
		rc = tract_json_render_to(digest_sink, ctx, item, style);
	if (rc == 0 && (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32))
		rc = TRACT_ERROR;
	EVP_MD_CTX_free(ctx);
	if (rc == TRACT_ENOMEM)
		return tract_error_oom();
	if (rc < 0)
		return tract_error_set(TRACT_ERROR, "SHA-256 failed in libcrypto");
	hex_of(out, md);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int tract_commit_hash_compute(char out[65], const tract_commit_hash_input *in)
{
	tract_buf b = TRACT_BUF_INIT;
	char iso[48];
	int rc = 0;

	rc |= tract_buf_puts(&b, "{\"content_hash\":");
	rc |= tract_json_escape(&b, in->content_hash, strlen(in->content_hash), 0);
	rc |= tract_buf_puts(&b, ",\"content_type\":");
	rc |= tract_json_escape(&b, in->content_type, strlen(in->content_type), 0);
	rc |= tract_buf_puts(&b, in->operation == TRACT_OP_EDIT ? ",\"operation\":\"edit\""
								: ",\"operation\":\"append\"");
	rc |= tract_buf_puts(&b, ",\"parent_hash\":");
	if (in->parent_hash)
		rc |= tract_json_escape(&b, in->parent_hash, strlen(in->parent_hash), 0);
	else
		rc |= tract_buf_puts(&b, "null");
	if (in->n_extra > 0) {
		const char **all = malloc((in->n_extra + 1) * sizeof(*all));
		size_t i;
		if (!all) {
			rc = -1;
			goto done;
		}
		all[0] = in->parent_hash ? in->parent_hash : "";
		for (i = 0; i < in->n_extra; i++)
			all[i + 1] = in->extra_parents[i];
		qsort(all, in->n_extra + 1, sizeof(*all), cmp_str);
		rc |= tract_buf_puts(&b, ",\"parent_hashes\":[");
		for (i = 0; i <= in->n_extra; i++) {
			if (i)
				rc |= tract_buf_putc(&b, ',');
			rc |= tract_json_escape(&b, all[i], strlen(all[i]), 0);
		}
		rc |= tract_buf_putc(&b, ']');
		free(all);
	}
	if (in->response_to) {
		rc |= tract_buf_puts(&b, ",\"response_to\":");
		rc |= tract_json_escape(&b, in->response_to, strlen(in->response_to), 0);
	}
	tract_time_hash_iso(iso, sizeof(iso), in->created_at);
	rc |= tract_buf_printf(&b, ",\"timestamp_iso\":\"%s\"}", iso);
done:
	if (rc) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	rc = tract_sha256_hex(out, b.ptr, b.len);
	tract_buf_dispose(&b);
	return rc;
}

int tract_is_full_hash(const char *s)
{
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}
