"""SeqGAN against MLE on text: rlkit's shipped grammar corpus, at equal epochs.

    python benchmarks/seqgan_text.py --seeds 0 1 2

Per seed: `rlkit train seqgan --text-file grammar` for MLE_EPOCHS of MLE; the run is copied and
continued twice, as SeqGAN (discriminator pre-training and ADVERSARIAL_EPOCHS adversarial epochs,
benchmarks/seqgan_oracle.py's cpu schedule for the discriminator) and as the MLE-only control (as
many more MLE epochs). At the end of each, on 1,000 sampled sentences: BLEU-2..5 against the
held-out sentences (10% of the corpus), self-BLEU-3 (lower: more diverse) and the fraction of
sentences the grammar accepts (exact). Results: benchmarks/results/seqgan_text.json.

    python benchmarks/seqgan_text.py --seeds 0 1 2 --rescore 10000

scores the final checkpoints of runs already made again, on --rescore sentences sampled by each
generator from the same seed (BLEU-3 of 1,000 sentences moves by about ±0.008 from one sample to
the next, as large as the differences measured): BLEU-2..5 with the standard error of BLEU-3,
self-BLEU-3 on 1,000 of them, grammar acceptance. Results: benchmarks/results/seqgan_text_rescored.json.
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


def rescore(run: Path, samples: int) -> dict[str, float]:
    import numpy as np

    from agents import SeqGAN
    from rlkit.sequences.bleu import self_bleu
    from rlkit.sequences.grammar import acceptance_rate

    agent = SeqGAN.load(run)
    sentences = agent.decode_words(agent.sample(samples, seed=12_345))
    reference = agent.bleu_reference()
    bleu3 = np.array([reference.sentence_bleu(s, 3) for s in sentences])
    out = {f"bleu{n}": round(reference.corpus_mean(sentences, n), 4) for n in (2, 4, 5)}
    out.update(bleu3=round(float(bleu3.mean()), 4), bleu3_standard_error=round(float(bleu3.std() / np.sqrt(samples)), 4),
               self_bleu3=round(self_bleu(sentences[:1000], 3, seed=0), 4), grammar_accepted=round(acceptance_rate(sentences), 4))
    return dict(sorted(out.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=Path("runs/seqgan"))
    parser.add_argument("--rescore", type=int, default=0, help="score the runs' final checkpoints on this many samples")
    args = parser.parse_args()
    if args.rescore:
        scores = {seed: {kind: rescore(args.work / f"text-{kind}-s{seed}", args.rescore) for kind in ("seqgan", "mle-control")}
                  for seed in args.seeds}
        for seed, row in scores.items():
            print(f"seed {seed}: {json.dumps(row)}", flush=True)
        save("seqgan_text_rescored", {"samples": args.rescore, "seeds": scores})
        return
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
