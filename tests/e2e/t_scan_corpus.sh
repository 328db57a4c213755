#!/bin/bash
# Accuracy on the small labelled corpus (tests/corpus/gen.py): synthetic
# credentials of every rule in realistic files, and hard negatives.  Recall
# and precision must both stay at or above 0.97.
. "$(dirname "$0")/lib.sh"

C="$AIRLOCK_SRC/tests/corpus"
for seed in 11 12; do
	run python3 "$C/gen.py" --out "$T_ROOT/corpus$seed" --seed "$seed" --files 500
	expect_rc 0 "generate corpus $seed"
	run python3 "$C/evaluate.py" "$AL" "$T_ROOT/corpus$seed" --min-recall 0.97 --min-precision 0.97
	expect_rc 0 "corpus $seed: $(grep recall "$OUT")"
	cat "$OUT"
done
done_testing
