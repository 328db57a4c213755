#!/bin/bash
# Accuracy on the small labelled corpus (tests/corpus/gen.py): synthetic
# credentials of every rule in realistic files, and hard negatives; then the
# hand-labelled configuration files.  Recall and precision must both stay at
# or above 0.97.
. "$(dirname "$0")/lib.sh"

C="$AIRLOCK_SRC/tests/corpus"
for seed in 11 12; do
	run python3 "$C/gen.py" --out "$T_ROOT/corpus$seed" --seed "$seed" --files 500
	expect_rc 0 "generate corpus $seed"
	run python3 "$C/evaluate.py" "$AL" "$T_ROOT/corpus$seed" --min-recall 0.97 --min-precision 0.97
	expect_rc 0 "corpus $seed: $(grep recall "$OUT")"
	cat "$OUT"
done
# The hand-labelled configuration files (tests/corpus/configs.py), every
# rule in force: the same bounds.
run python3 "$C/configs.py" --out "$T_ROOT/configs"
expect_rc 0 "write the configuration set"
run python3 "$C/evaluate.py" "$AL" "$T_ROOT/configs" --all-rules --min-recall 0.97 --min-precision 0.97
expect_rc 0 "configuration set: $(grep recall "$OUT")"
cat "$OUT"
# One directory per class of credential (tests/corpus/classes.py): Docker
# registry logins, configuration passwords of every shape, Datadog, Heroku,
# Twilio, generic keys, Kubernetes Secrets, PEM keys, AWS secret keys, and
# the templates, references, examples and look-ups beside them.
run python3 "$C/classes.py" --out "$T_ROOT/classes"
expect_rc 0 "write the class set"
run python3 "$C/evaluate.py" "$AL" "$T_ROOT/classes" --all-rules --by-rule --min-recall 0.97 --min-precision 0.97
expect_rc 0 "class set: $(grep recall "$OUT")"
cat "$OUT"
done_testing
