# Debian packages (make deb, tools/debian/): the build itself, the fields
# of pvio-tools and pvio-dkms, their exact file lists (dpkg-deb -c), the
# DKMS sources against the Kbuild and the dkms.conf, lintian (no error),
# and the packaged programs running out of an unpacked package. Sourced by
# tests/run-all.
#
# Wall times on the 2-core development machine, seconds: deb-build 50-70
# (both programs and the manual pages from nothing, inside
# dpkg-buildpackage), deb-lintian 10-20, the others under 5.

DEB_DIR=$TOP/build/deb

# deb_version: PVIO_VERSION (make version), which is the packages' version.
deb_version() {
	make -s -C "$TOP" --no-print-directory version
}

# deb_path PACKAGE ARCH: the .deb of PACKAGE that make deb left, or a
# message and status 1.
deb_path() {
	local v f
	v=$(deb_version) || return 1
	f=$DEB_DIR/$1_${v}_$2.deb
	[ -f "$f" ] || { echo "no $f (did deb-build pass?)"; return 1; }
	printf '%s\n' "$f"
}

# deb_files DEB: the regular files and symlinks of DEB, absolute, sorted.
deb_files() {
	dpkg-deb -c "$1" | awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); print p }' | sort
}

deb_arch() { dpkg --print-architecture; }

# make deb builds pvio-tools, pvio-dkms (and pvio-tools' debug symbols)
# from the tree, prints their paths, and writes nothing into tools/debian/
# (dpkg-buildpackage works on a copy under build/deb/).
deb_build() {
	local c out rc v arch before after p
	for c in dpkg-buildpackage dh dh_dkms; do
		command -v "$c" >/dev/null ||
			{ echo "SKIP: $c not installed (tools/pvio-deps)"; return 77; }
	done
	v=$(deb_version)
	[ -n "$v" ] || { echo "make version printed nothing"; return 1; }
	arch=$(deb_arch)
	before=$(cd "$TOP" && find tools/debian -printf '%p %s %T@\n' | sort)
	out=$(make -C "$TOP" --no-print-directory deb 2>&1)
	rc=$?
	printf '%s\n' "$out"
	[ $rc -eq 0 ] || { echo "make deb exited $rc"; return 1; }
	after=$(cd "$TOP" && find tools/debian -printf '%p %s %T@\n' | sort)
	[ "$before" = "$after" ] || {
		diff <(printf '%s\n' "$before") <(printf '%s\n' "$after")
		echo "make deb changed tools/debian/"
		return 1
	}
	for p in "pvio-tools_${v}_$arch" "pvio-dkms_${v}_all"; do
		[ -f "$DEB_DIR/$p.deb" ] || { echo "no $DEB_DIR/$p.deb"; return 1; }
		printf '%s\n' "$out" | grep -qx "    build/deb/$p.deb" ||
			{ echo "make deb did not print the path of $p.deb"; return 1; }
	done
	echo "make deb: pvio-tools and pvio-dkms $v built"
}

# deb_field DEB FIELD WANT: FIELD of DEB's control file is WANT.
deb_field() {
	local got
	got=$(dpkg-deb -f "$1" "$2")
	echo "$(basename "$1"): $2: $got"
	[ "$got" = "$3" ] || { echo "  want '$3'"; return 1; }
}

# Package, Version (PVIO_VERSION), Architecture; pvio-tools depends on the
# shared libraries it links (shlibs: libc6, liburing2), pvio-dkms on dkms.
deb_fields() {
	local tools dkms v dep bad=0
	tools=$(deb_path pvio-tools "$(deb_arch)") || { echo "$tools"; return 1; }
	dkms=$(deb_path pvio-dkms all) || { echo "$dkms"; return 1; }
	v=$(deb_version)
	deb_field "$tools" Package pvio-tools || bad=1
	deb_field "$tools" Version "$v" || bad=1
	deb_field "$tools" Architecture "$(deb_arch)" || bad=1
	deb_field "$dkms" Package pvio-dkms || bad=1
	deb_field "$dkms" Version "$v" || bad=1
	deb_field "$dkms" Architecture all || bad=1
	dep=$(dpkg-deb -f "$tools" Depends)
	echo "pvio-tools: Depends: $dep"
	[[ $dep =~ (^|, )libc6( |,|$) ]] || { echo "  no libc6"; bad=1; }
	[[ $dep =~ (^|, )liburing2( |,|$) ]] || { echo "  no liburing2"; bad=1; }
	dep=$(dpkg-deb -f "$dkms" Depends)
	echo "pvio-dkms: Depends: $dep"
	[[ $dep =~ (^|, )dkms( |,|$) ]] || { echo "  no dkms"; bad=1; }
	return $bad
}

# pvio-tools holds exactly the daemon in /usr/sbin (manual section 8), the
# benchmark in /usr/bin, their manual pages, the template unit in
# /lib/systemd/system starting /usr/sbin/pvio-backd, the example
# configuration as a conffile, and the copyright and changelog.
deb_tools_files() {
	local deb want got unit conf page mode p
	deb=$(deb_path pvio-tools "$(deb_arch)") || { echo "$deb"; return 1; }
	want=$(printf '%s\n' /etc/pvio/example.conf \
		/lib/systemd/system/pvio-backd@.service \
		/usr/bin/pvio-bench /usr/sbin/pvio-backd \
		/usr/share/doc/pvio-tools/changelog.gz \
		/usr/share/doc/pvio-tools/copyright \
		/usr/share/man/man1/pvio-bench.1.gz \
		/usr/share/man/man8/pvio-backd.8.gz | sort)
	got=$(deb_files "$deb")
	printf '%s\n' "$got"
	diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") ||
		{ echo "pvio-tools: other files than these (< wanted, > found)"; return 1; }
	for p in ./usr/sbin/pvio-backd ./usr/bin/pvio-bench; do
		mode=$(dpkg-deb -c "$deb" | awk -v p="$p" '$6 == p { print $1 }')
		[ "$mode" = -rwxr-xr-x ] || { echo "$p: mode $mode"; return 1; }
	done
	conf=$(dpkg-deb -I "$deb" conffiles) || { echo "pvio-tools has no conffiles"; return 1; }
	echo "conffiles: $conf"
	[ "$conf" = /etc/pvio/example.conf ] || { echo "want /etc/pvio/example.conf as the conffile"; return 1; }
	unit=$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./lib/systemd/system/pvio-backd@.service)
	# shellcheck disable=SC2016 # the unit's own variable, unexpanded
	printf '%s\n' "$unit" | grep -qx 'ExecStart=/usr/sbin/pvio-backd $PVIO_BACKD_ARGS' ||
		{ printf '%s\n' "$unit"; echo "the unit does not start /usr/sbin/pvio-backd"; return 1; }
	printf '%s\n' "$unit" | grep -qx 'EnvironmentFile=/etc/pvio/%i.conf' ||
		{ echo "the unit does not read /etc/pvio/%i.conf"; return 1; }
	for page in man8/pvio-backd.8:'PVIO-BACKD 8' man1/pvio-bench.1:'PVIO-BENCH 1'; do
		dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "./usr/share/man/${page%%:*}.gz" |
			gzip -dc | grep -q "^\.TH ${page#*:} " ||
			{ echo "${page%%:*}: no .TH ${page#*:} line"; return 1; }
	done
	echo "pvio-tools: programs, manual pages, unit, conffile"
}

# kbuild_sources: the .c file of every module of the Kbuild, or of each of
# its parts for a module built from several objects.
kbuild_sources() {
	sed -e ':a' -e '/\\$/{N;s/\\\n/ /;ba' -e '}' "$TOP/Kbuild" | awk '
		$1 == "obj-m" { for (i = 3; i <= NF; i++) mods[$i] = 1 }
		$1 ~ /-y$/ && ($2 == ":=" || $2 == "+=") {
			m = $1; sub(/-y$/, ".o", m)
			for (i = 3; i <= NF; i++) parts[m] = parts[m] " " $i
		}
		END {
			for (m in mods) {
				n = split(parts[m] != "" ? parts[m] : m, o, " ")
				for (i = 1; i <= n; i++) { s = o[i]; sub(/\.o$/, ".c", s); print s }
			}
		}' | sort -u
}

# pvio-dkms holds /usr/src/pvio-VERSION with the Kbuild, every source file
# it builds from, every header those include (quoted, or <pvio/...>, looked
# up where the Kbuild's -I and the including file's directory point), and
# a dkms.conf naming pvio VERSION whose modules are all in the Kbuild; its
# maintainer scripts hand the sources to DKMS.
deb_dkms_files() {
	local deb v src got f inc dir d found bad=0 n=0 names locs i s
	deb=$(deb_path pvio-dkms all) || { echo "$deb"; return 1; }
	v=$(deb_version)
	src=/usr/src/pvio-$v
	got=$(deb_files "$deb")
	printf '%s\n' "$got"
	f=$(printf '%s\n' "$got" | grep -v "^$src/" | grep -v '^/usr/share/doc/pvio-dkms/')
	[ -z "$f" ] || { echo "files outside $src: $f"; bad=1; }
	for f in Kbuild dkms.conf $(kbuild_sources); do
		n=$((n + 1))
		printf '%s\n' "$got" | grep -qxF "$src/$f" || { echo "missing: $src/$f"; bad=1; }
	done
	[ $n -gt 5 ] || { echo "only $n files found through the Kbuild"; return 1; }
	d=$(mktemp -d "$DEB_DIR/dkms-x.XXXXXX") || return 1
	dpkg-deb -x "$deb" "$d" || { rm -rf "$d"; return 1; }
	for f in $(printf '%s\n' "$got" | grep -E "^$src/.*\.[ch]$"); do
		dir=$(dirname "${f#"$src"/}")
		while read -r inc; do
			found=0
			for s in "$dir" include ring hypercall/kernel .; do
				[ -f "$d$src/$s/$inc" ] && { found=1; break; }
			done
			[ $found -eq 1 ] || { echo "${f#"$src"/} includes $inc, not in the package"; bad=1; }
		done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p; s/^#include <\(pvio\/[^>]*\)>.*/\1/p' "$d$f")
	done
	names=$(sed -n 's/^BUILT_MODULE_NAME\[\([0-9]*\)\]="\(.*\)"$/\1 \2/p' "$d$src/dkms.conf")
	locs=$(sed -n 's/^BUILT_MODULE_LOCATION\[\([0-9]*\)\]="\(.*\)"$/\1 \2/p' "$d$src/dkms.conf")
	grep -qx 'PACKAGE_NAME="pvio"' "$d$src/dkms.conf" || { echo "dkms.conf: PACKAGE_NAME is not pvio"; bad=1; }
	grep -qx "PACKAGE_VERSION=\"$v\"" "$d$src/dkms.conf" || { echo "dkms.conf: PACKAGE_VERSION is not $v"; bad=1; }
	rm -rf "$d"
	[ -n "$names" ] || { echo "dkms.conf names no module"; return 1; }
	while read -r i s; do
		f=$(awk -v i="$i" '$1 == i { print $2 }' <<<"$locs")$s.o
		grep -Eq "^obj-m[[:space:]]*\+=[[:space:]]*$f\$" "$TOP/Kbuild" ||
			{ echo "dkms.conf module $i: $f is no obj-m of the Kbuild"; bad=1; }
	done <<<"$names"
	echo "dkms.conf modules: $(awk '{ print $2 }' <<<"$names" | paste -sd' ')"
	s=$(dpkg-deb -I "$deb" postinst)
	if ! grep -qx "DKMS_NAME=pvio" <<<"$s" || ! grep -qx "DKMS_VERSION=$v" <<<"$s" ||
		! grep -q common.postinst <<<"$s"; then
		echo "postinst does not hand pvio/$v to DKMS"
		bad=1
	fi
	dpkg-deb -I "$deb" prerm | grep -q 'dkms remove' ||
		{ echo "prerm does not remove pvio/$v from DKMS"; bad=1; }
	[ $bad -eq 0 ] && echo "pvio-dkms: $n files from the Kbuild, headers complete, dkms.conf and scripts right"
	return $bad
}

# lintian on every package make deb built: no error. Warnings (and info
# tags) are printed and counted, not failed on.
deb_lintian() {
	local v debs out rc
	v=$(deb_version)
	command -v lintian >/dev/null || { echo "SKIP: lintian not installed (tools/pvio-deps)"; return 77; }
	debs=("$DEB_DIR"/*_"$v"_*.deb)
	[ -f "${debs[0]}" ] || { echo "no packages in $DEB_DIR (did deb-build pass?)"; return 1; }
	printf 'lintian %s\n' "${debs[*]##*/}"
	out=$(lintian --display-info "${debs[@]}" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	echo "lintian: exit $rc; $(grep -c '^E: ' <<<"$out") errors," \
		"$(grep -c '^W: ' <<<"$out") warnings, $(grep -c '^I: ' <<<"$out") info"
	! grep -q '^E: ' <<<"$out" || { echo "lintian reports errors"; return 1; }
	[ $rc -eq 0 ] || { echo "lintian failed"; return 1; }
}

# The packaged programs run: pvio-tools unpacked into a scratch directory
# (nothing installed on this host), its pvio-backd and pvio-bench print
# their manual-shaped help.
deb_tools_run() {
	local deb d p rc=0
	deb=$(deb_path pvio-tools "$(deb_arch)") || { echo "$deb"; return 1; }
	d=$(mktemp -d "$DEB_DIR/root.XXXXXX") || return 1
	dpkg -x "$deb" "$d" || { rm -rf "$d"; return 1; }
	for p in usr/sbin/pvio-backd usr/bin/pvio-bench; do
		if "$d/$p" --help | grep -q '^EXIT STATUS'; then
			echo "/$p --help: ok"
		else
			echo "/$p --help failed or is incomplete"
			rc=1
		fi
	done
	rm -rf "$d"
	return $rc
}

t_run deb-build deb_build
t_run deb-fields deb_fields
t_run deb-tools-files deb_tools_files
t_run deb-dkms-files deb_dkms_files
t_run deb-lintian deb_lintian
t_run deb-tools-run deb_tools_run
