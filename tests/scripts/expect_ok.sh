#!/usr/bin/env bash
# usage: expect_ok.sh REGEX CMD...        passes when CMD exits 0 and its output (stdout + stderr) matches REGEX
#        expect_ok.sh --exact TEXT CMD... passes when CMD exits 0 and its stdout is exactly TEXT (printf escapes)
# ctest's pass-regex test property ignores the exit code, so a run that prints the line and then crashes would pass
# with it; this does not.
set -u
exact=""
if [ "$1" = "--exact" ]; then exact=1; shift; fi
want="$1"; shift
if [ -n "$exact" ]; then
  # The x keeps trailing newlines; the command's status is kept before echo runs.
  out=$("$@"; rc=$?; echo x; exit $rc); rc=$?
  out=${out%x}
else
  out=$("$@" 2>&1); rc=$?
fi
if [ $rc -ne 0 ]; then echo "exit $rc (expected 0)"; echo "$out"; exit 1; fi
if [ -n "$exact" ]; then
  expected=$(printf "$want"; echo x); expected=${expected%x}
  if [ "$out" != "$expected" ]; then echo "output differs; expected:"; printf '%s' "$expected"; echo "got:"; printf '%s' "$out"; exit 1; fi
  echo "ok: exit 0, exact output"
  exit 0
fi
if ! grep -Eq -- "$want" <<<"$out"; then echo "exit 0 but the output does not match /$want/:"; echo "$out"; exit 1; fi
echo "$out" | tail -20
echo "ok: exit 0: $(grep -E -- "$want" <<<"$out" | head -1)"
