#!/bin/sh
# Stand-in for Bazel's downloaded coverage tools (offline build).
echo 'bazel coverage is not available offline; run the tests with pytest for coverage.' >&2
exit 1
