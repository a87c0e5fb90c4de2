# The host's boot is not pvio's to change: tools/pvio-deps installs no
# kernel package, the guest kernels come from its cache, and
# tools/pvio-kdir finds them there. Sourced by tests/run-all.

# pvio-deps --plan: one apt-get install of host packages, none of them a
# kernel image or headers; one apt-get download per guest kernel series.
deps_plan_no_host_kernel() {
	local plan rc inst bad n
	command -v apt-cache >/dev/null || { echo "SKIP: no apt-cache here"; return 77; }
	plan=$("$TOP/tools/pvio-deps" --plan)
	rc=$?
	printf '%s\n' "$plan"
	[ $rc -eq 0 ] || { echo "pvio-deps --plan exited $rc"; return 1; }
	inst=$(printf '%s\n' "$plan" | grep '^apt-get install ')
	[ "$(printf '%s\n' "$inst" | grep -c .)" -eq 1 ] ||
		{ echo "expected one apt-get install line"; return 1; }
	# The real package list, not an empty one.
	printf '%s\n' "$inst" | tr ' ' '\n' | grep -qx qemu-system-x86 ||
		{ echo "qemu-system-x86 missing from the install line"; return 1; }
	bad=$(printf '%s\n' "$inst" | tr ' ' '\n' | grep -E '^linux-(image|headers)-')
	[ -z "$bad" ] || { echo "pvio-deps would install kernel packages on the host: $bad"; return 1; }
	# Nothing else in the plan installs packages.
	bad=$(printf '%s\n' "$plan" | grep -v '^apt-get install ' | grep -E 'dpkg (-i|--install)|apt-get install|apt install')
	[ -z "$bad" ] || { echo "unexpected install step: $bad"; return 1; }
	n=$(printf '%s\n' "$plan" | grep -cE '^apt-get download linux-image-[^ ]+ linux-headers-[^ ]+ ')
	[ "$n" -eq 2 ] || { echo "expected 2 guest kernel downloads (6.1, 6.12), found $n"; return 1; }
	echo "deps-plan: host packages only; $n guest kernels fetched into the cache"
}

# Every kernel tools/pvio-kdir --all reports is a complete cache entry
# (headers pointing into the cache, image, modules with modules.dep), and
# every guest kernel pvio-deps plans is among them.
deps_kernels_in_cache() {
	local cache all only kdir ver f inc v
	cache=$("$TOP/tools/pvio-kdir" --cache)
	if ! ls "$cache"/*/.pvio-kernel >/dev/null 2>&1; then
		echo "SKIP: the kernel cache $cache is empty (run tools/pvio-deps)"
		return 77
	fi
	all=$("$TOP/tools/pvio-kdir" --all) || { echo "pvio-kdir --all failed"; return 1; }
	printf '%s\n' "$all"
	only=$(PVIO_KERNELS_ONLY=1 "$TOP/tools/pvio-kdir" --all)
	[ "$only" = "$all" ] ||
		{ echo "with PVIO_KERNELS_ONLY=1 pvio-kdir --all lists instead:"; printf '%s\n' "$only"; return 1; }
	for kdir in $all; do
		ver=${kdir##*/linux-headers-}
		[ "$kdir" = "$cache/$ver/usr/src/linux-headers-$ver" ] ||
			{ echo "$kdir is not in the cache $cache"; return 1; }
		inc=$(sed -n 's/^include //p' "$kdir/Makefile")
		case "$inc" in
		"$cache/$ver/"*) [ -f "$inc" ] || { echo "$kdir/Makefile includes missing $inc"; return 1; } ;;
		*) echo "$kdir/Makefile includes $inc, outside the cache"; return 1 ;;
		esac
		f=$("$TOP/tools/pvio-kdir" --vmlinuz "$ver")
		[ "$f" = "$cache/$ver/boot/vmlinuz-$ver" ] && [ -s "$f" ] ||
			{ echo "image of $ver: '$f'"; return 1; }
		f=$("$TOP/tools/pvio-kdir" --modules "$ver")
		[ "$f" = "$cache/$ver" ] && [ -s "$f/lib/modules/$ver/modules.dep" ] ||
			{ echo "modules of $ver: '$f' (no modules.dep?)"; return 1; }
		echo "ok  $ver: headers, image and modules in $cache/$ver"
	done
	for v in $("$TOP/tools/pvio-deps" --plan | sed -n 's/.*# guest kernel \([^ ,]*\),.*/\1/p'); do
		printf '%s\n' "$all" | grep -qx "$cache/$v/usr/src/linux-headers-$v" ||
			{ echo "pvio-deps wants $v, which pvio-kdir does not list"; return 1; }
	done
}

# pvio-kdir prefers the cache and falls back to the system's kernels only
# when the cache has none, never under PVIO_KERNELS_ONLY=1: a made-up
# cache entry is the one it reports.
kdir_cache_first() {
	local c=$TOP/build/kdir-cache-test.$$ v=9.9.9-pvio-test out
	rm -rf "$c"
	mkdir -p "$c/$v/boot" "$c/$v/usr/src/linux-headers-$v" "$c/$v/lib/modules/$v" "$c/empty" || return 1
	echo x >"$c/$v/boot/vmlinuz-$v"
	echo "include $c/$v/usr/src/common/Makefile" >"$c/$v/usr/src/linux-headers-$v/Makefile"
	out=$(PVIO_KERNELS=$c "$TOP/tools/pvio-kdir" --all)
	case "$out" in
	*"$c/$v/"*) echo "an entry without its stamp was listed: $out"; rm -rf "$c"; return 1 ;;
	esac
	touch "$c/$v/.pvio-kernel"
	out=$(PVIO_KERNELS=$c "$TOP/tools/pvio-kdir" --all)
	echo "cache with one kernel: $out"
	[ "$out" = "$c/$v/usr/src/linux-headers-$v" ] || { rm -rf "$c"; echo "expected only the cached kernel"; return 1; }
	out=$(PVIO_KERNELS=$c "$TOP/tools/pvio-kdir" --vmlinuz "$v")
	[ "$out" = "$c/$v/boot/vmlinuz-$v" ] || { rm -rf "$c"; echo "--vmlinuz: $out"; return 1; }
	out=$(PVIO_KERNELS=$c/empty PVIO_KERNELS_ONLY=1 "$TOP/tools/pvio-kdir" --all)
	[ $? -eq 1 ] && [ -z "$out" ] ||
		{ rm -rf "$c"; echo "PVIO_KERNELS_ONLY=1 with an empty cache printed '$out'"; return 1; }
	rm -rf "$c"
	echo "kdir: cache first, stamp required, PVIO_KERNELS_ONLY honoured"
}

t_run deps-plan-no-host-kernel deps_plan_no_host_kernel
t_run deps-kernels-in-cache deps_kernels_in_cache
t_run kdir-cache-first kdir_cache_first
