#!/bin/sh
# `make demo`: the quickstart against a fresh mock API.
# Usage: examples/run-demo.sh [lua interpreter]
exec sh examples/with-mock.sh -- "${1:-lua5.4}" examples/quickstart.lua
