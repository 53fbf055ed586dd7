#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer targets of tests/fuzz/ with clang in build-fuzz/
# and run each for a bounded time on a copy of its seed corpus.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
#
# Fails when a target crashes or breaks an invariant, printing the saved
# reproducer's path (copy it to tests/fuzz/regressions/<target>/ with the
# fix: the fuzz-regressions meson suite replays those). The exception is
# fuzz_store_lmdb: it runs in libFuzzer's fork mode and goes on after a crash;
# a crash whose innermost frame is inside liblmdb itself (a damaged page that
# liblmdb reads without checking) is reported, not failed (TRACT_FUZZ_STRICT=1
# fails on those too). Prints the executions of each target.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

secs=${1:-20}
case "$secs" in
'' | *[!0-9]*)
	printf 'usage: %s [SECONDS_PER_TARGET]\n' "$0" >&2
	exit 2
	;;
esac
dir=build-fuzz
say() { printf 'fuzz: %s\n' "$*"; }

if ! command -v clang >/dev/null 2>&1; then
	say 'clang not found (scripts/install-deps.sh installs it)' >&2
	exit 1
fi

# The core and the plugins get the fuzzer's coverage instrumentation
# (fuzzer-no-link; the targets link libFuzzer); ASan + UBSan as in CI, no
# -Werror (clang warns where gcc does not; the CI build keeps -Werror).
opts=(-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false
	-Dc_args=-fsanitize=fuzzer-no-link -Dbuildtype=debugoptimized)
if [ -f "$dir/meson-private/coredata.dat" ]; then
	CC=clang meson setup --reconfigure "$dir" "${opts[@]}" >/dev/null
else
	CC=clang meson setup "$dir" "${opts[@]}" >/dev/null
fi
targets=(fuzz_json fuzz_content fuzz_revision fuzz_uri fuzz_tables fuzz_store_sqlite
	fuzz_store_lmdb fuzz_bpe)
# the provider plugins' parsers (plugins/common/sse.c, plugins/*/..._parse.c)
targets+=(fuzz_sse fuzz_openai fuzz_anthropic)
ninja_targets=(backends/sqlite/tract-backend-sqlite.so backends/lmdb/tract-backend-lmdb.so)
for t in "${targets[@]}"; do
	ninja_targets+=("tests/$t")
done
ninja -C "$dir" "${ninja_targets[@]}" >/dev/null

# fuzz_bpe counts with the real tables: the CI build's, else fetched here.
if [ -z "${TRACT_ENCODINGS_DIR:-}" ]; then
	if [ -f build-ci/data/encodings/o200k_base.json ]; then
		export TRACT_ENCODINGS_DIR=$root/build-ci/data/encodings
	else
		scripts/fetch-encodings.sh "$dir/data/encodings"
		export TRACT_ENCODINGS_DIR=$root/$dir/data/encodings
	fi
fi
export TRACT_PLUGIN_PATH=$root/$dir/backends/sqlite:$root/$dir/backends/lmdb
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

out=$dir/fuzz-out
rm -rf "$out"
mkdir -p "$out"
failed=0
summary=()
for t in "${targets[@]}"; do
	name=${t#fuzz_}
	work=$out/$name
	mkdir -p "$work/corpus" "$work/artifacts"
	[ -d "tests/fuzz/corpus/$name" ] && cp "tests/fuzz/corpus/$name"/* "$work/corpus/"
	[ -d "tests/fuzz/regressions/$name" ] && cp "tests/fuzz/regressions/$name"/* \
		"$work/corpus/" 2>/dev/null || true
	args=("$work/corpus" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048
		-max_len=8192 -print_final_stats=1 -artifact_prefix="$work/artifacts/")
	[ "$t" = fuzz_store_lmdb ] && args+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1)
	# the targets' scratch stores and tables (a crashed process leaves them)
	mkdir -p "$work/tmp"
	status=0
	start=$(date +%s)
	TMPDIR=$root/$work/tmp timeout -k 10 $((secs * 2 + 120)) "$dir/tests/$t" "${args[@]}" \
		>"$work/log" 2>&1 ||
		status=$?
	took=$(($(date +%s) - start))
	runs=$(awk '/stat::number_of_executed_units:/ { n = $2 } END { print n + 0 }' "$work/log")
	if [ "$runs" -eq 0 ]; then # fork mode: the last "#N" status line
		runs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$work/log" | tail -n 1)
		runs=${runs:-0}
	fi
	crashes=$(find "$work/artifacts" -type f | sort)
	line=$(printf '%-14s %9s runs in %3ss' "$name" "$runs" "$took")
	if [ "$t" = fuzz_store_lmdb ] && [ -n "$crashes" ]; then
		known=0
		for c in $crashes; do
			# innermost frame of the crash outside the sanitizers, libFuzzer
			# and libc (abort, raise, memcpy, and the sanitizers' interceptors
			# of them: liblmdb's own memcpy shows as __interceptor_memcpy),
			# replayed once. A SIGBUS is a read of liblmdb's map past the
			# file's end, also when the plugin copies a value liblmdb handed
			# out.
			# (clang's runtime names its interceptors after the libc function
			# itself, as a frame in the fuzz executable: " in memmove (...)").
			skip='__sanitizer|__asan|__ubsan|__interceptor_|fuzzer::|libc\.so|nptl/|signal/|stdlib/|assert/|string/| in (memmove|memcpy|memset|memcmp|bcmp|strlen|strnlen|strcmp|strncmp) \('
			if [[ "$c" == */timeout-* ]]; then # a hang on a damaged page
				say "lmdb: hang (reported, not failed; not classified): $c"
				continue
			fi
			replay=$(TMPDIR=$root/$work/tmp timeout -k 5 60 "$dir/tests/$t" "$c" 2>&1 || true)
			frame=$(grep -E '^ +#[0-9]+ ' <<<"$replay" | grep -v -E "$skip" | head -n 1 || true)
			if ! grep -q -E '^ +#[0-9]+ ' <<<"$replay"; then
				# It does not crash again on its own: liblmdb's state (its
				# lock file, the map of the previous input) made it. Only
				# store_lmdb gets here; the input is kept for a look.
				say "lmdb: crash that does not reproduce alone (reported, not failed): $c"
				known=$((known + 1))
				continue
			fi
			if grep -q 'AddressSanitizer: BUS' <<<"$replay" &&
				grep -q -E 'liblmdb|backends/lmdb' <<<"$replay"; then
				frame="$frame (SIGBUS in the map of liblmdb)"
			fi
			if [[ "$frame" == *liblmdb* ]] && [ -z "${TRACT_FUZZ_STRICT:-}" ]; then
				known=$((known + 1))
				say "lmdb: crash inside liblmdb (reported, not failed): $c"
			else
				say "lmdb: crash outside liblmdb: $c ($frame)" >&2
				failed=1
			fi
		done
		line="$line, $known crash(es) inside liblmdb"
		status=0
	fi
	if [ "$status" -ne 0 ] || { [ "$t" != fuzz_store_lmdb ] && [ -n "$crashes" ]; }; then
		say "$t FAILED (exit $status); log: $work/log" >&2
		grep -E 'ERROR|invariant broken|SUMMARY' "$work/log" | head -n 5 >&2 || true
		for c in $crashes; do
			say "  reproducer: $c (replay: $dir/tests/$t $c)" >&2
		done
		failed=1
		line="$line, FAILED"
	fi
	summary+=("$line")
done
say "executions per target (${secs}s each):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
