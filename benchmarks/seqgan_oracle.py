"""SeqGAN's synthetic-data table (Yu et al. 2017, Table 1 and Figure 2), with the paper's oracle.

    python benchmarks/seqgan_oracle.py --oracle ../shared/seqgan-oracle/target_params.npz --stages cost
    python benchmarks/seqgan_oracle.py --oracle ../shared/seqgan-oracle/target_params.npz --stages table

Stages:
  cost   one MLE epoch, one generator step (64 sequences x 19 prefixes x 16 rollouts scored by D),
         one discriminator epoch (10,000 real + 10,000 generated sequences) and one NLL_oracle
         measurement (10,000 samples), each timed on this machine; then the projected wall clock of
         the paper's schedule from them
  table  `rlkit train seqgan --oracle ORACLE` with --schedule's settings: MLE for mle_epochs, then
         the run is copied and continued twice: SeqGAN (discriminator pre-training and the
         adversarial epochs) and the MLE-only control (--adversarial false, as many more MLE epochs
         as SeqGAN has adversarial ones). NLL_oracle on 10,000 samples every 5 epochs. Rows Random
         (epoch 0), MLE (the last MLE epoch), SeqGAN (its last epoch), MLE control (its last epoch),
         next to the paper's 10.310 / 9.038 / 8.736; a PNG like the paper's Figure 2.

Schedules (generator settings are the paper's in both):
  paper  50 discriminator pre-training rounds of 3 epochs on 10,000 fresh negatives; 200 adversarial
         epochs, each 1 generator step and 5 rounds of 3 epochs on 10,000 negatives
  cpu    20 pre-training rounds of 1 epoch on 2,500 negatives (and 2,500 real sequences drawn at
         random); 30 adversarial epochs, each 1 generator step and 1 round of 1 epoch on 2,500
         negatives: the discriminator sees 1/30 of the paper's sequences per pre-training round and
         per adversarial epoch, each generator step is the paper's. With this cheap discriminator
         NLL_oracle falls for about 30 adversarial epochs and then climbs back as the discriminator
         grows strong (a 100-epoch run on seed 0: 8.852 at 10, 8.768 at 30, 8.860 at 50, 9.046 at
         100; BENCHMARKS.md), so the schedule stops at the bottom of that valley
Results: benchmarks/results/seqgan_oracle_<schedule>[_s<seed>].json and .png (seed 0 unsuffixed).
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, run_rlkit, save, save_figure  # noqa: E402

PAPER = {"Random": 10.310, "MLE": 9.038, "SeqGAN": 8.736}
SCHEDULES = {
    "paper": dict(disc_pretrain_rounds=50, disc_epochs=3, d_steps=5, num_negatives=0, adversarial_epochs=200),
    "cpu": dict(disc_pretrain_rounds=20, disc_epochs=1, d_steps=1, num_negatives=2500, adversarial_epochs=30),
}
MLE_EPOCHS = 120


def flags(settings: dict) -> list[str]:
    return [item for key, value in settings.items() for item in (f"--{key.replace('_', '-')}", str(value))]




def result_name(schedule: str, seed: int) -> str:
    return f"seqgan_oracle_{schedule}" + (f"_s{seed}" if seed else "")


def nll_curve(run: Path) -> dict[int, float]:
    with open(run / "progress.csv", newline="") as f:
        return {int(r["step"]): float(r["losses/nll_oracle"]) for r in csv.DictReader(f) if r.get("losses/nll_oracle")}


def cost(oracle: str) -> dict:
    import torch

    from agents import SeqGAN

    def timed(fn, repeats: int) -> float:
        fn()  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - start) / repeats

    agent = SeqGAN(oracle=oracle, disc_epochs=1)
    agent.rollout_generator.load_state_dict(agent.generator.state_dict())
    seconds = {
        "mle_epoch": timed(agent.mle_epoch, 2),
        "generator_step": timed(agent.generator_step, 3),
        "disc_epoch_20k": timed(agent.discriminator_round, 1),  # 10,000 real + 10,000 fresh negatives, 1 epoch
        "nll_oracle_10k": timed(agent.measure, 2),
    }
    paper = SCHEDULES["paper"]
    d_epochs = paper["disc_pretrain_rounds"] * paper["disc_epochs"] + paper["adversarial_epochs"] * paper["d_steps"] * paper["disc_epochs"]
    measurements = (MLE_EPOCHS + paper["adversarial_epochs"]) // 5 + 1
    projection = {"mle": MLE_EPOCHS * seconds["mle_epoch"], "generator": paper["adversarial_epochs"] * seconds["generator_step"],
                  "discriminator": d_epochs * seconds["disc_epoch_20k"], "measurements": measurements * seconds["nll_oracle_10k"]}
    out = {"seconds": {k: round(v, 2) for k, v in seconds.items()}, "threads": torch.get_num_threads(),
           "paper_schedule_projection_hours": {k: round(v / 3600, 2) for k, v in projection.items()},
           "paper_schedule_total_hours": round(sum(projection.values()) / 3600, 2), "discriminator_epochs": d_epochs}
    print(json.dumps(out, indent=1), flush=True)
    return out


def table(oracle: str, schedule: str, work: Path, seed: int) -> dict:
    settings = SCHEDULES[schedule]
    base = ["train", "seqgan", "--oracle", oracle, "--seed", str(seed), "--mle-epochs", str(MLE_EPOCHS),
            *flags({k: v for k, v in settings.items() if k != "adversarial_epochs"}), "--eval-episodes", "0", "--quiet"]
    seqgan_run, control_run = work / f"seqgan-{schedule}-s{seed}", work / f"mle-control-{schedule}-s{seed}"
    total = MLE_EPOCHS + settings["adversarial_epochs"]
    seconds = {"mle": run_rlkit(*base, "--total-steps", str(MLE_EPOCHS), "--log-dir", str(seqgan_run), "--overwrite")}
    print(f"MLE {MLE_EPOCHS} epochs: {seconds['mle']:.0f} s", flush=True)
    shutil.rmtree(control_run, ignore_errors=True)
    shutil.copytree(seqgan_run, control_run)
    seconds["adversarial"] = run_rlkit("train", "seqgan", "--log-dir", str(seqgan_run), "--resume", "--total-steps", str(total), "--quiet")
    print(f"SeqGAN phases after MLE: {seconds['adversarial']:.0f} s", flush=True)
    seconds["mle_control"] = run_rlkit("train", "seqgan", "--log-dir", str(control_run), "--resume", "--adversarial", "false",
                                   "--total-steps", str(total), "--quiet")
    seqgan, control = nll_curve(seqgan_run), nll_curve(control_run)
    rows = {"Random": seqgan[0], "MLE": seqgan[MLE_EPOCHS], "SeqGAN": seqgan[total], "MLE control": control[total]}
    out = {"schedule": schedule, "settings": settings, "seed": seed, "command": " ".join(["rlkit", *base]),
           "rows": {k: round(v, 3) for k, v in rows.items()}, "paper": PAPER,
           "seconds": {k: round(v, 1) for k, v in seconds.items()},
           "seqgan_all_phases_minutes": round((seconds["mle"] + seconds["adversarial"]) / 60, 1),
           "curves": {"seqgan": seqgan, "mle_control": control}}
    plot(seqgan, control, RESULTS / f"{result_name(schedule, seed)}.png", schedule)
    print(json.dumps({k: v for k, v in out.items() if k != "curves"}, indent=1), flush=True)
    return out


def plot(seqgan: dict[int, float], control: dict[int, float], path: Path, schedule: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(list(control), list(control.values()), label="MLE", color="tab:blue")
    adversarial = {k: v for k, v in seqgan.items() if k >= MLE_EPOCHS}
    ax.plot(list(adversarial), list(adversarial.values()), label="SeqGAN", color="tab:red")
    ax.axvline(MLE_EPOCHS, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("epochs (MLE, then adversarial)")
    ax.set_ylabel("NLL_oracle (10,000 samples)")
    ax.set_ylim(8.4, 10.6)
    ax.set_title(f"SeqGAN on the paper's oracle ({schedule} schedule)")
    ax.legend()
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oracle", required=True, help="the oracle's .npz (../shared/seqgan-oracle/target_params.npz)")
    parser.add_argument("--stages", nargs="+", default=["cost", "table"], choices=["cost", "table"])
    parser.add_argument("--schedule", default="cpu", choices=sorted(SCHEDULES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("runs/seqgan"))
    args = parser.parse_args()
    results: dict = {}
    if "cost" in args.stages:
        results["cost"] = cost(args.oracle)
        save("seqgan_oracle_cost", results)
    if "table" in args.stages:
        results["table"] = table(args.oracle, args.schedule, args.work, args.seed)
        save(result_name(args.schedule, args.seed), results)


if __name__ == "__main__":
    main()
