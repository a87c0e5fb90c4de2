# Protocol and backend building blocks: the ivshmem server and client, and
# the protocol library of ring/ (block rules, region layout and check,
# handshake, shared-memory copy, ids in flight), each alone (plain, under ThreadSanitizer
# and under AddressSanitizer + UBSan, since they parse hostile input); then
# stock QEMU attaching to the ivshmem server.
#
# Wall times on the 2-core development machine, seconds: builds 0-30 (the
# sanitizer builds, when nothing is built yet); unit tests 1-2 each, under
# the sanitizers 1-3; ivshmem-qemu-connects 1-3 (QEMU with TCG, firmware
# only, no guest kernel).
#
# A sanitizer report makes the program exit non-zero after cmocka's summary,
# which t_cmocka counts as a failure.

t_run build-backend-parts make -s unit progs
t_run build-backend-parts-tsan make -s SAN=tsan unit
t_run build-backend-parts-asan make -s SAN=asan unit

for san in '' tsan asan; do
	dir=build${san:+/$san}/tests/unit
	sfx=${san:+-$san}
	t_cmocka "unit-ivshmem-proto$sfx" "$dir/hypercall/test_ivshmem_proto"
	t_cmocka "unit-blk-proto$sfx" "$dir/ring/test_blk_proto"
	t_cmocka "unit-net-proto$sfx" "$dir/ring/test_net_proto"
	t_cmocka "unit-region$sfx" "$dir/ring/test_region"
	t_cmocka "unit-handshake$sfx" "$dir/ring/test_handshake"
	t_cmocka "unit-compat$sfx" "$dir/ring/test_compat"
	t_cmocka "unit-ids$sfx" "$dir/ring/test_ids"
done
unset san dir sfx

t_run ivshmem-qemu-connects tests/integration/ivshmem-qemu-connects.sh build
