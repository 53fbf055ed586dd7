/*
 * http.c - the provider plugins' HTTP POST over libcurl and the
 * classification of failures (http.h).
 */
#include "http.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "reply.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int tp_http_global_init(void)
{
	pthread_once(&global_once, global_init);
	return global_rc == CURLE_OK ? 0 : -1;
}

typedef struct {
	const tp_http_request *rq;
	tp_http_response *rs;
	CURL *curl;
	size_t received;
	int decided;     /* the body's destination is known */
	int too_big;
	int sink_rc;     /* the sink stopped the transfer with this code */
	double retry_after_ms;
} transfer;

double tp_retry_after_parse(const char *value)
{
	char buf[128], *end;
	size_t n;
	double d;
	time_t t;

	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n && isspace((unsigned char)value[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, value, n);
	buf[n] = '\0';
	if (isdigit((unsigned char)buf[0])) {
		d = strtod(buf, &end);
		if (*end == '\0' && isfinite(d) && d >= 0)
			return d;
		/* a date never starts with a digit in IMF-fixdate, but RFC 850 /
		 * asctime forms do not either: anything else is not a delay */
	}
	t = curl_getdate(buf, NULL);
	if (t == (time_t)-1)
		return -1;
	d = difftime(t, time(NULL));
	return d > 0 ? d : 0;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
	transfer *tr = userdata;
	size_t n = size * nitems;
	char line[256];

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new answer (after a 1xx) */
		tr->rs->retry_after = -1;
		tr->retry_after_ms = -1;
		return n;
	}
	if (n >= sizeof(line))
		return n;
	memcpy(line, data, n);
	line[n] = '\0';
	if (strncasecmp(line, "retry-after:", 12) == 0) {
		tr->rs->retry_after = tp_retry_after_parse(line + 12);
	} else if (strncasecmp(line, "retry-after-ms:", 15) == 0) {
		char *end;
		double ms = strtod(line + 15, &end);
		while (isspace((unsigned char)*end))
			end++;
		if (*end == '\0' && isfinite(ms) && ms >= 0)
			tr->retry_after_ms = ms;
	}
	return n;
}

static void decide(transfer *tr)
{
	long status = 0;
	char *type = NULL;

	tr->decided = 1;
	curl_easy_getinfo(tr->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(tr->curl, CURLINFO_CONTENT_TYPE, &type);
	tr->rs->streamed = tr->rq->stream && tr->rq->sink && status >= 200 && status < 300 &&
			   type && strstr(type, "text/event-stream") != NULL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	transfer *tr = userdata;
	size_t n = size * nmemb;

	if (!tr->decided)
		decide(tr);
	if (n > tr->rq->max_bytes - tr->received || tr->received > tr->rq->max_bytes) {
		tr->too_big = 1;
		return 0;
	}
	tr->received += n;
	if (tr->rs->streamed) {
		int rc = tr->rq->sink(tr->rq->payload, data, n);
		if (rc) {
			tr->sink_rc = rc;
			return 0;
		}
		return n;
	}
	return tp_buf_put(&tr->rs->body, data, n) == 0 ? n : 0;
}

static int transport_error(const tp_http_request *rq, transfer *tr, CURLcode rc,
			   const char *detail, tract_provider_error *err)
{
	const char *what = *detail ? detail : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		if (rq->stream)
			tp_err_set(err, TRACT_PROVIDER_ERR_TIMEOUT, (int)tr->rs->status,
			           "%s: no data from the server for %g s (%s)", rq->who,
			           rq->timeout, what);
		else
			tp_err_set(err, TRACT_PROVIDER_ERR_TIMEOUT, (int)tr->rs->status,
				   "%s: no complete answer within %g s (%s)", rq->who, rq->timeout,
				   what);
		return TRACT_ETIMEOUT;
	case CURLE_WRITE_ERROR:
		if (tr->too_big) {
			tp_err_set(
			    err, TRACT_PROVIDER_ERR_BAD_RESPONSE, (int)tr->rs->status,
			    "%s: the response is larger than %zu bytes (option max_response_bytes)",
			    rq->who, rq->max_bytes);
			return TRACT_EPROVIDER;
		}
		if (tr->sink_rc)
			return tr->sink_rc; /* err filled by the sink */
		tp_err_set(err, TRACT_PROVIDER_ERR_TRANSPORT, (int)tr->rs->status,
			   "%s: out of memory reading the response", rq->who);
		return TRACT_ENOMEM;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: bad base URL (%s)", rq->who,
			   what);
		return TRACT_EINVAL;
	default:
		tp_err_set(err, TRACT_PROVIDER_ERR_TRANSPORT, (int)tr->rs->status, "%s: %s",
			   rq->who, what);
		return TRACT_EPROVIDER;
	}
}

int tp_http_post(const tp_http_request *rq, tp_http_response *rs, tract_provider_error *err)
{
	char detail[CURL_ERROR_SIZE];
	transfer tr;
	CURL *curl;
	CURLcode rc;
	long ms = (long)ceil(rq->timeout * 1000.0);
	int ret = 0;

	memset(rs, 0, sizeof(*rs));
	rs->retry_after = -1;
	rs->body.limit = rq->max_bytes;
	if (tp_http_global_init() != 0 || !(curl = curl_easy_init())) {
		tp_err_set(err, TRACT_PROVIDER_ERR_TRANSPORT, 0, "%s: libcurl failed to start",
			   rq->who);
		return TRACT_EPROVIDER;
	}
	memset(&tr, 0, sizeof(tr));
	tr.rq = rq;
	tr.rs = rs;
	tr.curl = curl;
	tr.retry_after_ms = -1;
	detail[0] = '\0';
	if (ms < 1)
		ms = 1;
	rc = curl_easy_setopt(curl, CURLOPT_URL, rq->url);
	rc |= curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
	rc |= curl_easy_setopt(curl, CURLOPT_HTTPHEADER, rq->headers);
	rc |= curl_easy_setopt(curl, CURLOPT_POST, 1L);
	rc |= curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body);
	rc |= curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	rc |= curl_easy_setopt(curl, CURLOPT_USERAGENT, "tract/" "0.1");
	rc |= curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
	rc |= curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	rc |= curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, ms < 30000 ? ms : 30000L);
	if (rq->stream) {
		long secs = (long)ceil(rq->timeout);
		rc |= curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
		rc |= curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, secs < 1 ? 1L : secs);
	} else {
		rc |= curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ms);
	}
	rc |= curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	rc |= curl_easy_setopt(curl, CURLOPT_HEADERDATA, &tr);
	rc |= curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	rc |= curl_easy_setopt(curl, CURLOPT_WRITEDATA, &tr);
	if (rc != CURLE_OK) {
		tp_err_set(err, TRACT_PROVIDER_ERR_TRANSPORT, 0,
			   "%s: libcurl lacks an option this plugin needs", rq->who);
		ret = TRACT_EPROVIDER;
		goto done;
	}
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &rs->status);
	if (tr.retry_after_ms >= 0)
		rs->retry_after = tr.retry_after_ms / 1000.0;
	if (!tr.decided)
		decide(&tr);
	if (rc != CURLE_OK) {
		ret = transport_error(rq, &tr, rc, detail, err);
		if (err && rs->retry_after >= 0 && err->retry_after < 0)
			err->retry_after = rs->retry_after;
		goto done;
	}
	if (!rs->streamed && tp_buf_terminate(&rs->body) != 0) {
		tp_err_set(err, TRACT_PROVIDER_ERR_TRANSPORT, (int)rs->status,
			   "%s: out of memory reading the response", rq->who);
		ret = TRACT_ENOMEM;
	}
done:
	curl_easy_cleanup(curl);
	return ret;
}

void tp_http_response_dispose(tp_http_response *rs)
{
	tp_buf_dispose(&rs->body);
}

static char *dup_string(const cJSON *item)
{
	return cJSON_IsString(item) && item->valuestring ? strdup(item->valuestring) : NULL;
}

void tp_error_body(const char *body, size_t len, char **message, char **type)
{
	cJSON *root, *e;

	*message = *type = NULL;
	if (!body || !len || !(root = cJSON_ParseWithLength(body, len)))
		return;
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsObject(e)) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
		*message = dup_string(cJSON_GetObjectItemCaseSensitive(e, "message"));
		*type = dup_string(cJSON_GetObjectItemCaseSensitive(e, "type"));
		/* OpenAI names the interesting part in code ("insufficient_quota") */
		if (cJSON_IsString(code) && code->valuestring &&
		    strcmp(code->valuestring, "insufficient_quota") == 0) {
			free(*type);
			*type = strdup(code->valuestring);
		}
	} else if (cJSON_IsString(e)) {
		*message = dup_string(e);
	} else {
		*message = dup_string(cJSON_GetObjectItemCaseSensitive(root, "message"));
	}
	cJSON_Delete(root);
}

int tp_http_status_error(const tp_http_response *rs, tract_provider_error *err, const char *who)
{
	tract_provider_error_kind kind;
	const char *label;
	char *message = NULL, *type = NULL;
	int status = (int)rs->status;

	if (status == 401 || status == 403) {
		kind = TRACT_PROVIDER_ERR_AUTH;
		label = status == 401 ? "authentication failed" : "permission denied";
	} else if (status == 429) {
		kind = TRACT_PROVIDER_ERR_RATE_LIMIT;
		label = "rate limited";
	} else if (status == 408) {
		kind = TRACT_PROVIDER_ERR_TIMEOUT;
		label = "the server timed out";
	} else if (status == 529) {
		kind = TRACT_PROVIDER_ERR_SERVER;
		label = "the server is overloaded";
	} else if (status >= 500) {
		kind = TRACT_PROVIDER_ERR_SERVER;
		label = "server error";
	} else {
		kind = TRACT_PROVIDER_ERR_REQUEST;
		label = "request refused";
	}
	if (!rs->streamed)
		tp_error_body(rs->body.ptr, rs->body.len, &message, &type);
	if (type && strcmp(type, "insufficient_quota") == 0) {
		kind = TRACT_PROVIDER_ERR_REQUEST;
		label = "quota exhausted";
	}
	if (message && type)
		tp_err_set(err, kind, status, "%s: HTTP %d, %s: %s (%s)", who, status, label,
			   message, type);
	else if (message)
		tp_err_set(err, kind, status, "%s: HTTP %d, %s: %s", who, status, label, message);
	else
		tp_err_set(err, kind, status, "%s: HTTP %d, %s", who, status, label);
	if (err)
		err->retry_after = rs->retry_after;
	free(message);
	free(type);
	return tp_err_code(kind);
}

int tp_stream_error(const char *data, size_t len, tract_provider_error *err, const char *who)
{
	static const struct {
		const char *type;
		tract_provider_error_kind kind;
	} map[] = {
		{"overloaded_error", TRACT_PROVIDER_ERR_SERVER},
		{"api_error", TRACT_PROVIDER_ERR_SERVER},
		{"server_error", TRACT_PROVIDER_ERR_SERVER},
		{"rate_limit_error", TRACT_PROVIDER_ERR_RATE_LIMIT},
		{"rate_limit_exceeded", TRACT_PROVIDER_ERR_RATE_LIMIT},
		{"authentication_error", TRACT_PROVIDER_ERR_AUTH},
		{"permission_error", TRACT_PROVIDER_ERR_AUTH},
		{"invalid_request_error", TRACT_PROVIDER_ERR_REQUEST},
		{"request_too_large", TRACT_PROVIDER_ERR_REQUEST},
		{"timeout_error", TRACT_PROVIDER_ERR_TIMEOUT},
	};
	tract_provider_error_kind kind = TRACT_PROVIDER_ERR_SERVER;
	char *message = NULL, *type = NULL;
	size_t i;

	tp_error_body(data, len, &message, &type);
	for (i = 0; type && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(type, map[i].type) == 0)
			kind = map[i].kind;
	tp_err_set(err, kind, 200, "%s: error in the event stream: %s%s%s%s", who,
		   message ? message : "no message", type ? " (" : "", type ? type : "",
		   type ? ")" : "");
	free(message);
	free(type);
	return tp_err_code(kind);
}
