# Build every userspace program and check the ABI headers stand alone.

t_run build-userspace make -s all

# Each ABI header must compile alone as C99 and as C++ (the kernel module
# build covers the third case). -pedantic-errors keeps them portable.
for h in include/pvio/*.h; do
	b=$(basename "$h" .h)
	t_run "abi-$b-c99" cc -std=c99 -pedantic-errors -Wall -Wextra -Werror \
		-fsyntax-only -x c "$h"
	t_run "abi-$b-c++" c++ -std=c++11 -pedantic-errors -Wall -Wextra -Werror \
		-fsyntax-only -x c++ "$h"
done
