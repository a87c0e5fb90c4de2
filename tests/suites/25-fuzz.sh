# Fuzz targets (tests/fuzz/, FUZZING.md): build them with clang's libFuzzer,
# AddressSanitizer and UBSan; check that the committed seed corpus is what
# its generator writes; replay every seed (and every saved regression) once;
# then fuzz each target for 2 seconds. Any crash, sanitizer report, broken
# invariant, timeout or leak fails the test, and the input is kept under
# build/fuzz/crashes/.
#
# Wall times on the 2-core development machine, seconds: fuzz-build 15-25;
# fuzz-corpus 1; each replay < 1; each run 3 (2 s of fuzzing and start-up).

fuzz_need_clang() {
	if ! command -v clang-14 >/dev/null && ! command -v clang >/dev/null; then
		echo "clang is missing: tools/pvio-deps installs clang-14 and libclang-rt-14-dev"
		return 1
	fi
}

# The corpus in the tree is exactly the generator's output.
fuzz_corpus_current() {
	local tmp rc=0
	tmp=$(mktemp -d) || return 1
	cc -std=gnu11 -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Iring \
		-o "$tmp/gen_corpus" tests/fuzz/gen_corpus.c ring/region.c \
		ring/blk_proto.c ring/net_proto.c || rc=1
	[ $rc -ne 0 ] || "$tmp/gen_corpus" "$tmp/corpus" || rc=1
	[ $rc -ne 0 ] || diff -r "$tmp/corpus" tests/fuzz/corpus || rc=1
	rm -rf "$tmp"
	return $rc
}

fuzz_build() {
	fuzz_need_clang || return 1
	tools/pvio-fuzz --build build --list >/dev/null || return 1
	# Builds every target; the replay output lists them.
	tools/pvio-fuzz --build build --replay
}

t_run fuzz-build fuzz_build
t_run fuzz-corpus fuzz_corpus_current
for fz_name in $(tools/pvio-fuzz --list | awk '{ print $1 }'); do
	t_run "fuzz-replay-$fz_name" tools/pvio-fuzz --build build --no-build \
		--replay "$fz_name"
	t_run "fuzz-run-$fz_name" tools/pvio-fuzz --build build --no-build \
		--seconds 2 "$fz_name"
done
unset fz_name
unset -f fuzz_need_clang fuzz_corpus_current fuzz_build
