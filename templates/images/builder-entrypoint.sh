#!/bin/sh
# Entrypoint of repo-run's local builder image (`cargo xtask images builder`): a minimal Debian
# with Python, a C compiler and no library headers, where the tests run repo-run itself to see a
# native build fail for want of a -dev package and the Fixer install it (--allow-system).
set -eu
exec "$@"
