/*
 * cmd_write.c - the commands that write: init, commit and annotate. Every
 * input is checked (the content built by tract_content_build) before the
 * store is opened, and the library writes each operation atomically, so a
 * failing command writes nothing.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_init(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'N'},
	    {"id", required_argument, NULL, 'I'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *name = NULL, *id = NULL;
	tract_store *store;
	tract *t;
	int c;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'N':
			name = optarg;
			break;
		case 'I':
			id = optarg;
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if (name && !name[0])
		return cli_usage(cli, "--name needs a non-empty name");
	if (id && !id[0])
		return cli_usage(cli, "--id needs a non-empty id");
	if (name && cli_check_text(name, strlen(name), "--name"))
		return CLI_FAIL;
	if (id && cli_check_text(id, strlen(id), "--id"))
		return CLI_FAIL;

	if (cli_open_store(cli, &store, TRACT_STORE_CREATE))
		return CLI_FAIL;
	if (tract_create(&t, store, id, name, NULL) != 0) {
		int rc = cli_fail_lib();
		tract_store_free(store);
		return rc;
	}
	cli->stored = 1;
	printf("%s\n", cli_safe(tract_id(t)));
	cli_close(store, t);
	return CLI_OK;
}

/* ---- commit ---- */

int cmd_commit(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"message", required_argument, NULL, 'm'},
	    {"json", required_argument, NULL, 'J'},
	    {"file", required_argument, NULL, 'F'},
	    {"edit", required_argument, NULL, 'E'},
	    {"response-to", required_argument, NULL, 'R'},
	    {"name", required_argument, NULL, 'N'},
	    {"metadata", required_argument, NULL, 'M'},
	    {"config", required_argument, NULL, 'C'},
	    {"max-size", required_argument, NULL, 'S'},
	    {"tool", required_argument, NULL, 'T'},
	    {"call-id", required_argument, NULL, 'I'},
	    {"status", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *tool = NULL, *call_id = NULL, *status = NULL;
	const char *message = NULL, *json = NULL, *file = NULL, *edit = NULL;
	const char *response_to = NULL, *name = NULL, *metadata = NULL, *config = NULL;
	const char *kind, *text = NULL, *type = NULL, *role = NULL;
	tract_content_build_options bopts = TRACT_CONTENT_BUILD_OPTIONS_INIT;
	tract_commit_options copts = TRACT_COMMIT_OPTIONS_INIT;
	char *input = NULL, *content = NULL;
	tract_store *store;
	tract_commit *commit;
	tract *t;
	size_t max_size = 0;
	int c, rc, is_shortcut, is_tool;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			message = optarg;
			break;
		case 'J':
			json = optarg;
			break;
		case 'F':
			file = optarg;
			break;
		case 'E':
			edit = optarg;
			break;
		case 'R':
			response_to = optarg;
			break;
		case 'N':
			name = optarg;
			break;
		case 'M':
			metadata = optarg;
			break;
		case 'C':
			config = optarg;
			break;
		case 'S':
			if (cli_parse_size(&max_size, optarg) != 0)
				return cli_usage(cli, "invalid --max-size '%s' (bytes >= 1, with "
				                 "an optional K, M or G suffix)", optarg);
			break;
		case 'T':
			tool = optarg;
			break;
		case 'I':
			call_id = optarg;
			break;
		case 's':
			status = optarg;
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage(cli, "missing KIND");
	kind = argv[optind++];
	if (optind < argc)
		text = argv[optind++];
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if (json && file)
		return cli_usage(cli, "--json and --file are exclusive");
	if (edit && response_to)
		return cli_usage(cli, "--edit and --response-to are exclusive");
	if (!kind[0])
		return cli_usage(cli, "empty KIND");
	is_shortcut = tract_content_shortcut_parse(&type, &role, kind) == 0;
	is_tool = strcmp(kind, "tool-call") == 0 || strcmp(kind, "tool-result") == 0;
	if (name && !role)
		return cli_usage(cli, "--name needs KIND user, assistant or system");
	if ((tool || call_id || status) && !is_tool)
		return cli_usage(cli, "--tool, --call-id and --status need KIND tool-call or "
		                 "tool-result");
	if (is_tool) {
		if (json || file)
			return cli_usage(cli, "KIND %s takes TEXT, not --json or --file (use KIND "
			                 "tool_io for a whole content object)", kind);
		if (!tool)
			return cli_usage(cli, "KIND %s needs --tool NAME", kind);
		if (kind[5] == 'r' && !call_id)
			return cli_usage(cli, "KIND tool-result needs --call-id ID (the id of the "
			                 "call it answers, as `tract show` prints it)");
		if (kind[5] == 'c' && status)
			return cli_usage(cli, "--status needs KIND tool-result");
		if (status && strcmp(status, "success") != 0 && strcmp(status, "error") != 0)
			return cli_usage(cli, "invalid --status '%s' (choose success or error)",
			                 status);
		if (!text)
			return cli_usage(cli, "missing %s (use '-' to read standard input)",
			                 kind[5] == 'c' ? "JSON_ARGS" : "TEXT_OR_JSON");
	} else if (json || file) {
		if (text)
			return cli_usage(cli, "TEXT cannot be combined with --json or --file");
	} else if (!is_shortcut) {
		if (tract_content_type_is_builtin(kind))
			return cli_usage(cli, "KIND %s needs --json OBJ or --file F", kind);
		return cli_fail("unknown content type: %s (shortcuts: instruction, user, "
		                "assistant, system; other types need --json or --file)",
		                kind);
	} else if (!text) {
		return cli_usage(cli, "missing TEXT (use '-' to read standard input)");
	}

	if (cli_input_limit_set(max_size))
		return CLI_FAIL;
	/* Check every input before touching the store. */
	if (cli_check_text(kind, strlen(kind), "KIND"))
		return CLI_FAIL;
	if (message && cli_check_text(message, strlen(message), "the message"))
		return CLI_FAIL;
	if (name && cli_check_text(name, strlen(name), "--name"))
		return CLI_FAIL;
	if (edit && cli_check_text(edit, strlen(edit), "--edit"))
		return CLI_FAIL;
	if (tool && cli_check_text(tool, strlen(tool), "--tool"))
		return CLI_FAIL;
	if (call_id && cli_check_text(call_id, strlen(call_id), "--call-id"))
		return CLI_FAIL;
	if (response_to && cli_check_text(response_to, strlen(response_to), "--response-to"))
		return CLI_FAIL;
	if (metadata && cli_check_json_object(metadata, "--metadata"))
		return CLI_FAIL;
	if (config && cli_check_json_object(config, "--config"))
		return CLI_FAIL;
	bopts.name = name;
	bopts.tool_name = tool;
	bopts.call_id = call_id;
	bopts.status = status;
	if (json) {
		bopts.label = "--json";
		rc = tract_content_build(&content, kind, NULL, json, &bopts) ? cli_fail_lib() : 0;
	} else if (file) {
		size_t len;
		rc = cli_read_file(&input, &len, file);
		if (rc == 0 && memchr(input, '\0', len))
			rc = cli_fail("%s contains a NUL byte", file);
		bopts.label = file;
		if (rc == 0 && tract_content_build(&content, kind, NULL, input, &bopts) != 0)
			rc = cli_fail_lib();
	} else {
		size_t len = strlen(text);
		rc = 0;
		if (strcmp(text, "-") == 0) {
			rc = cli_read_file(&input, &len, "-");
			text = input;
		}
		if (rc == 0)
			rc = cli_check_text(text, len, "TEXT");
		if (rc == 0 && tract_content_build(&content, kind, text, NULL, &bopts) != 0)
			rc = cli_fail_lib();
	}
	free(input);
	if (rc)
		return rc;

	copts.message = message;
	copts.metadata_json = metadata;
	copts.generation_config_json = config;
	if (edit) {
		copts.operation = TRACT_OP_EDIT;
		copts.response_to = edit;
	} else {
		copts.response_to = response_to;
	}
	if (cli_open_tract(cli, &store, &t)) {
		tract_string_free(content);
		return CLI_FAIL;
	}
	if (tract_commit_create(&commit, t, content, &copts) != 0) {
		rc = cli_fail_ref(copts.response_to);
	} else {
		cli->stored = 1;
		printf("%s\n", tract_commit_hash(commit));
		tract_commit_free(commit);
		rc = CLI_OK;
	}
	tract_string_free(content);
	cli_close(store, t);
	return rc;
}

/* ---- annotate ---- */

int cmd_annotate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"reason", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *reason = NULL, *ref, *prio_name;
	tract_priority prio;
	tract_store *store;
	char hash[65];
	tract *t;
	int c, rc;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			reason = optarg;
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (argc - optind < 2)
		return cli_usage(cli, argc - optind == 0 ? "missing REF" : "missing priority");
	if (argc - optind > 2)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind + 2]);
	ref = argv[optind];
	prio_name = argv[optind + 1];
	if (strcmp(prio_name, "skip") && strcmp(prio_name, "normal") && strcmp(prio_name, "pinned"))
		return cli_usage(cli, "invalid priority '%s' (choose skip, normal or pinned)",
		                 prio_name);
	if (tract_priority_parse(&prio, prio_name) != 0)
		return cli_fail_lib();
	if (cli_check_text(ref, strlen(ref), "REF"))
		return CLI_FAIL;
	if (reason && cli_check_text(reason, strlen(reason), "--reason"))
		return CLI_FAIL;

	if (cli_open_tract(cli, &store, &t))
		return CLI_FAIL;
	if (tract_revision_resolve(hash, t, ref) != 0) {
		rc = cli_fail_ref(ref);
	} else if (tract_annotation_create(NULL, t, hash, prio, reason) != 0) {
		rc = cli_fail_lib();
	} else {
		cli->stored = 1;
		printf("%s%.*s%s %s\n", cli_c(cli, "\033[33m"), CLI_SHORT_HASH, hash,
		       cli_reset(cli), tract_priority_name(prio));
		rc = CLI_OK;
	}
	cli_close(store, t);
	return rc;
}
