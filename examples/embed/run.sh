#!/bin/sh
# `make test-embed`: the embed host against the mock with added latency.
# Usage: examples/embed/run.sh <host binary> [latency seconds]
exec sh examples/with-mock.sh --latency "${2:-0.25}" --call-seconds 1 -- "$1" examples/embed/game.lua 60
