"""SeqGAN against MLE on text: rlkit's shipped grammar corpus, at equal epochs.

    python benchmarks/seqgan_text.py --seeds 0 1 2

Per seed: `rlkit train seqgan --text-file grammar` for MLE_EPOCHS of MLE; the run is copied and
continued twice, as SeqGAN (discriminator pre-training and ADVERSARIAL_EPOCHS adversarial epochs,
benchmarks/seqgan_oracle.py's cpu schedule for the discriminator) and as the MLE-only control (as
many more MLE epochs). At the end of each, on 1,000 sampled sentences: BLEU-2..5 against the
held-out sentences (10% of the corpus), self-BLEU-3 (lower: more diverse) and the fraction of
sentences the grammar accepts (exact). Results: benchmarks/results/seqgan_text.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import run_rlkit, save  # noqa: E402
from benchmarks.seqgan_oracle import SCHEDULES, flags  # noqa: E402

MLE_EPOCHS, ADVERSARIAL_EPOCHS = 50, 50
METRICS = ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu3", "grammar_accepted", "nll_gen")


def last_metrics(run: Path) -> dict[str, float]:
    with open(run / "progress.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("losses/bleu3")]
    return {m: round(float(rows[-1][f"losses/{m}"]), 4) for m in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=Path("runs/seqgan"))
    args = parser.parse_args()
    schedule = {k: v for k, v in SCHEDULES["cpu"].items() if k != "adversarial_epochs"}
    base = ["train", "seqgan", "--text-file", "grammar", "--mle-epochs", str(MLE_EPOCHS), *flags(schedule),
            "--metrics-interval", "10", "--eval-episodes", "0", "--quiet"]
    total = MLE_EPOCHS + ADVERSARIAL_EPOCHS
    results = {"command": " ".join(["rlkit", *base]), "mle_epochs": MLE_EPOCHS, "adversarial_epochs": ADVERSARIAL_EPOCHS,
               "seeds": {}}
    for seed in args.seeds:
        seqgan_run, control_run = args.work / f"text-seqgan-s{seed}", args.work / f"text-mle-control-s{seed}"
        seconds = {"mle": run_rlkit(*base, "--seed", str(seed), "--total-steps", str(MLE_EPOCHS), "--log-dir", str(seqgan_run),
                                "--overwrite")}
        at_mle = last_metrics(seqgan_run)
        shutil.rmtree(control_run, ignore_errors=True)
        shutil.copytree(seqgan_run, control_run)
        seconds["seqgan"] = run_rlkit("train", "seqgan", "--log-dir", str(seqgan_run), "--resume", "--total-steps", str(total), "--quiet")
        seconds["mle_control"] = run_rlkit("train", "seqgan", "--log-dir", str(control_run), "--resume", "--adversarial", "false",
                                       "--total-steps", str(total), "--quiet")
        row = {"after_mle": at_mle, "seqgan": last_metrics(seqgan_run), "mle_control": last_metrics(control_run),
               "seconds": {k: round(v, 1) for k, v in seconds.items()}}
        results["seeds"][seed] = row
        print(f"seed {seed}: {json.dumps(row)}", flush=True)
    save("seqgan_text", results)


if __name__ == "__main__":
    main()
