#!/bin/sh
# Stand-in for Bazel's downloaded coverage tools (offline build).
echo 'bazel coverage is not available offline; measure coverage with pytest.' >&2
exit 1
