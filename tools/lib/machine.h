/* SPDX-License-Identifier: MIT */
/*
 * The machine a measurement ran on, as one JSON object that every
 * measuring program of tools/ puts into its JSON output, so that results
 * from two machines can be told apart and compared. tools/lib/machine.sh
 * is the same object for the shell tools: keep the two in step.
 */
#ifndef PVIO_TOOLS_MACHINE_H
#define PVIO_TOOLS_MACHINE_H

#include <stdio.h>

/**
 * pvio_machine_json() - print the machine object.
 * @f: where to print
 *
 * Prints one JSON object, without a newline and without a key: cpu_model,
 * cores (online), memory_mib, kernel (uname -r), os (PRETTY_NAME of
 * /etc/os-release), qemu (null: these programs run no guest), accel
 * ("none", for the same reason), pvio_version, pvio_git (git describe at
 * build time, or null) and date_utc (ISO 8601). No host name, no address.
 * A field that cannot be read is null.
 *
 * Context: any thread; reads /proc and /etc.
 */
void pvio_machine_json(FILE *f);

#endif /* PVIO_TOOLS_MACHINE_H */
