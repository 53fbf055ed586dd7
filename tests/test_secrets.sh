#!/usr/bin/env bash
# test_secrets.sh - secrets never show: with provider keys in the environment
# and a PostgreSQL password in the store URIs, every CLI command runs (the
# failing ones too: bad host, bad database, bad role, missing schema, bad
# options), and no secret appears in any output or in any stored row.
#
#   test_secrets.sh TRACT sqlite      SQLite stores (always runs)
#   test_secrets.sh TRACT postgres    stores on TRACT_TEST_PG_URI's server (exit 77
#                                     without it); needs psql
#
# The throwaway server of scripts/pg.sh uses trust authentication, so a
# password in the URI is sent but not checked: the URIs that carry it still
# connect, which is what lets the successful writes (and their rows) be
# checked here.
set -u

tract=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mode=$2
tmp=$(mktemp -d /tmp/tract-secrets-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# A location without a scheme is an SQLite path: the keyword string below
# makes a file of that name, here rather than in the build directory.
cd "$tmp" || exit 1
out=$tmp/output.log

pw='S3cr3t-PW-xyz'
export OPENAI_API_KEY='sk-test-XYZ-openai-4b1dq'
export ANTHROPIC_API_KEY='sk-ant-test-XYZ-anthropic-77c2'
export GEMINI_API_KEY='AIza-test-XYZ-gemini-0e9f'
export GOOGLE_API_KEY="$GEMINI_API_KEY"
export TRACT_API_KEY='tract-test-XYZ-key-5a5a'
export PGPASSWORD="$pw"
secrets=("$pw" "$OPENAI_API_KEY" "$ANTHROPIC_API_KEY" "$GEMINI_API_KEY" "$TRACT_API_KEY")

fail() {
	printf 'test_secrets: %s\n' "$*" >&2
	exit 1
}

# Run the command, its stdout and stderr into the log; echo its status.
# (The command lines, secrets and all, go to commands.log, checked by nobody.)
n_run=0
run() {
	n_run=$((n_run + 1))
	printf '%d: tract %s\n' "$n_run" "$*" >>"$tmp/commands.log"
	printf -- '--- command %d\n' "$n_run" >>"$out"
	"$tract" "$@" >>"$out" 2>&1 </dev/null
	local rc=$?
	printf '[exit %d]\n' "$rc" >>"$out"
	return $rc
}

must() {
	run "$@" || fail "tract $* failed (see below)"$'\n'"$(tail -n 5 "$out")"
}

# Every command on the store at $1 (created here); the secret-bearing URI is
# passed with --db and through TRACT_DB.
exercise() {
	local db=$1 dst=$2
	must --db "$db" init
	must --db "$db" commit instruction "be brief"
	must --db "$db" commit user "hello" -m "first turn"
	run --db "$db" commit assistant "hi there" --metadata '{"k":"v"}' ||
		must --db "$db" commit assistant "hi there"
	must --db "$db" annotate HEAD pinned --reason "keep"
	for args in "log" "log --json" "log -v" "show HEAD" "show --json HEAD" "status" \
		"status --json" "compile" "compile --format openai" "compile --format anthropic" \
		"compile --json" "tracts" "tracts --json" "fsck" "fsck --json"; do
		# shellcheck disable=SC2086
		must --db "$db" $args
	done
	printf 'some text\n' >"$tmp/text"
	must --db "$db" tokens "$tmp/text"
	must --db "$db" tokens --json "$tmp/text"
	TRACT_DB=$db must status
	TRACT_DB=$db must log --oneline
	must clone --json "$db" "$dst"
	must clone "$dst" "$tmp/back-$RANDOM.db"
	must plugins
	# generate with the example provider: keys in options and the
	# environment, debug lines on, failures naming options.
	printf '[{"type": "function", "function": {"name": "lookup"}}]' >"$tmp/tools.json"
	must --db "$db" generate --provider example
	must --db "$db" generate --provider example -o "api_key=$OPENAI_API_KEY" --json
	TRACT_DEBUG=1 must --db "$db" generate --provider example \
		-o "example.api_key=$TRACT_API_KEY" --tools "$tmp/tools.json"
	cid=$("$tract" --db "$db" show --json HEAD </dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["content"]["call_id"])') ||
		fail "no tool call committed"
	must --db "$db" commit tool-result --tool lookup --call-id "$cid" "found it"
	TRACT_DEBUG=1 must --db "$db" generate --provider example --stream
	must --db "$db" generate --provider example --save
	run --db "$db" generate --provider example -o "colour=$ANTHROPIC_API_KEY"
	run --db "$db" generate --provider example -o "sentences=$GEMINI_API_KEY"
	run --db "$db" generate --provider "$OPENAI_API_KEY"
	run --db "$db" generate --provider "example,$TRACT_API_KEY"
	run --db "$db" generate --provider example --model "$OPENAI_API_KEY" --save
	run --db "$db" generate --provider nosuch -o "api_key=$OPENAI_API_KEY"
	# merge/cherry-pick/rebase --llm (the LLM resolver): keys in options,
	# debug lines on, a failing option naming a key.
	x=$("$tract" --db "$db" commit user "shared text" </dev/null) || fail "commit for --llm failed"
	must --db "$db" branch llm-side
	must --db "$db" commit user "ours" --edit "$x"
	must --db "$db" switch llm-side
	must --db "$db" commit user "theirs" --edit "$x"
	must --db "$db" switch main
	run --db "$db" merge --llm --provider example -o "colour=$ANTHROPIC_API_KEY" llm-side
	run --db "$db" merge --llm --provider "$OPENAI_API_KEY" llm-side
	run --db "$db" cherry-pick --llm --provider example -o "sentences=$TRACT_API_KEY" llm-side
	TRACT_DEBUG=1 must --db "$db" merge --llm --provider example \
		-o "api_key=$OPENAI_API_KEY" --json llm-side
	# Failures on a good store.
	run --db "$db" show nosuchref
	run --db "$db" annotate nosuchref pinned
	run --db "$db" commit nokind
	run --db "$db" commit user --json '{bad'
	run --db "$db" compile --format nosuch
	run --db "$db" compile --at nosuchref
	run --db "$db" log --op nosuch
	run --db "$db" --tract nosuchtract log
	run --db "$db" nosuchcommand
	run --db "$db" commit
	run clone "$db" "$db"
	run clone "$db" "$dst"
	return 0
}

check_text() {
	local what=$1 file=$2 s
	for s in "${secrets[@]}"; do
		if grep -qF -- "$s" "$file"; then
			grep -nF -- "$s" "$file" | head -n 5 >&2
			fail "secret '$s' appears in $what"
		fi
	done
}

case "$mode" in
sqlite)
	exercise "sqlite:$tmp/t.db" "sqlite:$tmp/copy.db"
	# Failing opens with a secret in the location.
	run --db "sqlite:$tmp/none/t.db?password=$pw" log
	run --db "sqlite:$tmp/t.db?password=$pw" log
	run --db "lmdb:$tmp/nolmdb?password=$pw" log
	run --db "postgres://u:$pw@127.0.0.1:1/db" log
	run --db "postgres:host=127.0.0.1 port=1 password=$pw" log
	run clone "postgres://u:$pw@127.0.0.1:1/db" "sqlite:$tmp/c2.db"
	run clone "sqlite:$tmp/t.db" "postgres://u:$pw@127.0.0.1:1/db"
	check_text "the commands' output" "$out"
	for f in "$tmp"/*.db; do
		sqlite3 "$f" .dump >"$f.sql" || fail "sqlite3 .dump $f"
		check_text "the rows of $f" "$f.sql"
		check_text "the file $f" "$f"
	done
	;;
postgres)
	if [ -z "${TRACT_TEST_PG_URI:-}" ]; then
		echo "test_secrets: TRACT_TEST_PG_URI is not set (no PostgreSQL server): skipped"
		exit 77
	fi
	command -v psql >/dev/null || fail "psql is needed"
	base=${TRACT_TEST_PG_URI%%\?*}
	hostport=${base#*://}
	hostport=${hostport#*@}
	hostport=${hostport%%/*}
	host=${hostport%:*}
	port=${hostport##*:}
	schema1=tract_secrets_a_$$
	schema2=tract_secrets_b_$$
	cleanup() {
		psql -q "$TRACT_TEST_PG_URI" -c "DROP SCHEMA IF EXISTS $schema1 CASCADE" \
			-c "DROP SCHEMA IF EXISTS $schema2 CASCADE" >/dev/null 2>&1
		rm -rf "$tmp"
	}
	trap cleanup EXIT
	# The password in the userinfo and as a query parameter.
	exercise "postgres://tract:$pw@$host:$port/tract?schema=$schema1" "sqlite:$tmp/copy1.db"
	exercise "postgresql://tract@$host:$port/tract?password=$pw&schema=$schema2" \
		"sqlite:$tmp/copy2.db"
	must clone "sqlite:$tmp/copy1.db" "postgres://tract:$pw@$host:$port/tract?schema=${schema1}_c"
	psql -q "$TRACT_TEST_PG_URI" -c "DROP SCHEMA IF EXISTS ${schema1}_c CASCADE" >/dev/null 2>&1
	# Failing connections: no server, no database, no role, no schema, a
	# bad parameter, a keyword string.
	run --db "postgres://tract:$pw@$host:1/tract" log
	run --db "postgres://tract:$pw@no-such-host.invalid:$port/tract" log
	run --db "postgres://tract:$pw@$host:$port/nosuchdb" log
	run --db "postgresql://tract@$host:$port/nosuchdb?password=$pw" status
	run --db "postgres://nosuchrole:$pw@$host:$port/tract" log
	run --db "postgres://tract:$pw@$host:$port/tract?schema=nosuchschema" log
	run --db "postgres://tract:$pw@$host:$port/tract?schema=nosuchschema" fsck --json
	run --db "postgres://tract:$pw@$host:$port/tract?schema=$schema1&bogus=$pw" log
	run --db "postgres://tract:$pw@$host:$port/tract?sslmode=$pw" log
	run --db "postgres:host=$host port=$port dbname=tract user=tract password=$pw" init
	run --db "host=$host port=$port dbname=tract user=tract password=$pw" init
	run clone "postgres://tract:$pw@$host:1/tract" "sqlite:$tmp/c3.db"
	run clone "sqlite:$tmp/copy1.db" "postgres://tract:$pw@$host:1/tract"
	check_text "the commands' output" "$out"
	for schema in "$schema1" "$schema2"; do
		tables=$(psql -qAt "$TRACT_TEST_PG_URI" -c "SELECT table_name FROM \
information_schema.tables WHERE table_schema = '$schema'") || fail "psql: list tables"
		[ -n "$tables" ] || fail "no tables in schema $schema"
		for t in $tables; do
			psql -qAt "$TRACT_TEST_PG_URI" -c "COPY \"$schema\".\"$t\" TO STDOUT" \
				>>"$tmp/$schema.rows" || fail "psql: dump $schema.$t"
		done
		check_text "the rows of schema $schema" "$tmp/$schema.rows"
	done
	for f in "$tmp"/*.db; do
		sqlite3 "$f" .dump >"$f.sql" || fail "sqlite3 .dump $f"
		check_text "the rows of $f" "$f.sql"
	done
	;;
*)
	fail "usage: test_secrets.sh TRACT sqlite|postgres"
	;;
esac
printf 'test_secrets (%s): %d commands, no secret in any output or row\n' "$mode" "$n_run"
