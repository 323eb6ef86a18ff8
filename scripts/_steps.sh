# shellcheck shell=bash
# The steps and timings shared by scripts/wheel_test.sh and scripts/offline_test.sh (sourced, not run):
#
#   source "$(dirname "${BASH_SOURCE[0]}")/_steps.sh" "wheel test" gradcam-wheel-test
#
# $1 names the test in its messages, $2 prefixes its temporary folder. Defines TMP (a new temporary folder, removed
# on exit), a trap that names the failing step, and:
#   step "what"          starts a step: prints "== what" and starts its clock;
#   done_step "label"    records the step's time under a short label;
#   steps_passed         prints "== timings", each step's time, and "<name> passed in N s".
# The caller sets `set -Eeuo pipefail` first (-E: the ERR trap also fires inside functions and subshells).
[[ $# -eq 2 ]] || { echo "_steps.sh: expected two arguments (the test's name, a temporary folder prefix), got $#" >&2; exit 2; }
STEPS_NAME="$1"
STEP="start"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
trap 'echo "$STEPS_NAME FAILED during: $STEP (see the output above)" >&2' ERR

step() {
    STEP="$1"
    STEP_STARTED=$SECONDS
    echo "== $STEP"
}
TIMINGS=()
done_step() { TIMINGS+=("$(printf '%-32s %4d s' "$1" $((SECONDS - STEP_STARTED)))"); }
STARTED=$SECONDS
steps_passed() {
    echo "== timings"
    printf '%s\n' "${TIMINGS[@]}"
    echo "$STEPS_NAME passed in $((SECONDS - STARTED)) s"
}
