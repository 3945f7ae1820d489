#!/usr/bin/env bash
# usage: expect_fail.sh REGEX CMD...
# Passes when CMD exits non-zero without a crash (no signal, code < 128) and its output matches REGEX.
set -u
re="$1"; shift
out=$("$@" 2>&1); rc=$?
if [ $rc -eq 0 ]; then echo "expected failure, got exit 0"; echo "$out"; exit 1; fi
if [ $rc -eq 124 ]; then echo "timed out (hang)"; echo "$out"; exit 1; fi
if [ $rc -ge 128 ]; then echo "crashed (exit $rc)"; echo "$out"; exit 1; fi
if ! grep -Eq -- "$re" <<<"$out"; then echo "exit $rc but message does not match /$re/:"; echo "$out"; exit 1; fi
echo "ok: exit $rc: $(grep -E -- "$re" <<<"$out" | head -1)"
