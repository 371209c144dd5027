"""What augmentation costs per training step: netbuilder's (torch operations: one sampling grid + grid_sample for all
geometric steps, nearest for masks) against kornia.augmentation doing the same steps, each as a ratio to a training
step of the lecture's convnet (examples/mnist_convnet.json, batch 100, eager, on the CPU) measured in this process.

    python bench/bench_augment.py [--batch 100] [--rounds 60] [--threads N]

Every step of the issue at once (flip, crop, translate, rotate, scale, brightness, contrast, noise, erase) on
1 x 28 x 28 images, and flip + rotate on fcn_shapes' images with their masks (one draw for both). Target: netbuilder's
augmentation under 10% of a convnet step on a CPU. kornia is measured when it is installed (pip install kornia).
The training step and the augmentations take turns in every round, as in training, where each augmentation follows
a step that has pushed it out of the caches (run alone in a loop, the same augmentation reads about a third faster);
each share is the median over rounds of its time over that round's step.
"""
import argparse
import statistics
import sys
import time

from _common import EXAMPLES, steady_allocator

FULL = "flip,crop,translate=0.1,rotate=15,scale=0.1,brightness=0.2,contrast=0.2,noise=0.1,erase=0.2"
TYPICAL = ["crop=2", "rotate=10", "scale=0.1"]  # the recipe bench/augment_helps.py shows helping


def kornia_pipeline(with_mask: bool):
    import kornia.augmentation as K

    if with_mask:
        return K.AugmentationSequential(K.RandomHorizontalFlip(), K.RandomRotation(20.0, p=1.0),
                                        data_keys=["input", "mask"])
    return K.AugmentationSequential(
        K.RandomHorizontalFlip(), K.RandomCrop((28, 28), padding=4),
        K.RandomAffine(15.0, translate=(0.1, 0.1), scale=(0.9, 1.1), p=1.0),
        K.ColorJitter(brightness=0.2, contrast=0.2, p=1.0), K.RandomGaussianNoise(std=0.1, p=1.0),
        K.RandomErasing(scale=(0.04, 0.04), ratio=(1.0, 1.0), p=0.5), data_keys=["input"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    steady_allocator()
    import torch

    from netbuilder.core.model.graph import Graph
    from netbuilder.core.training.config import TrainConfig
    from netbuilder.core.training.experiment import prepare_training
    from netbuilder.core.training.trainer import Trainer

    if args.threads:
        torch.set_num_threads(args.threads)
    setup = prepare_training(Graph.load(EXAMPLES / "mnist_convnet.json"), "mnist-5k")
    config = TrainConfig(batch_size=args.batch, compile="off", augment=FULL.split(","))
    trainer = Trainer(setup.model, setup.splits, config, objective=setup.objective)
    batch = {k: v[:args.batch] for k, v in trainer._tensors["train"].items()}
    trainer._train_mode()
    works = {"step": lambda: trainer._step(batch),
             "netbuilder (torch operations), every step": lambda: trainer.augmenting(batch, 1)}
    typical = Trainer(setup.model, setup.splits, TrainConfig(batch_size=args.batch, compile="off", augment=TYPICAL),
                      objective=setup.objective)
    works["netbuilder, " + " + ".join(TYPICAL)] = lambda: typical.augmenting(batch, 1)

    shapes = prepare_training(Graph.load(EXAMPLES / "fcn_shapes.json"), "shapes:n=400")
    config = TrainConfig(batch_size=args.batch, compile="off", augment=["flip", "rotate=20"])
    seg = Trainer(shapes.model, shapes.splits, config, objective=shapes.objective)
    seg_batch = {k: v[:args.batch] for k, v in seg._tensors["train"].items()}
    works["netbuilder, flip + rotate, image and mask"] = lambda: seg.augmenting(seg_batch, 1)
    try:
        import kornia  # noqa: F401
    except ImportError:
        print("kornia is not installed: pip install kornia (it needs kornia-rs, numpy, torch) to compare",
              file=sys.stderr)
    else:
        full = kornia_pipeline(False)
        x = batch["x"]
        works["kornia.augmentation, every step"] = lambda: full(x)
        pair = kornia_pipeline(True)
        image, mask = seg_batch["x"], seg_batch["mask"][:, None].float()
        works["kornia, flip + rotate, image and mask"] = lambda: pair(image, mask)
    for work in works.values():  # first-time costs (kernels, the noise table) out of it
        work()
    times = interleaved(works, args.rounds)
    step = statistics.median(times["step"])
    print(f"a training step of mnist_convnet, batch {args.batch}, eager on {trainer.device}: {step * 1000:.2f} ms "
          f"(median of {args.rounds} rounds; each share is the median over rounds of its time / that round's step)")
    shares = {}
    for name, seconds in times.items():
        if name != "step":
            shares[name] = statistics.median(s / t for s, t in zip(seconds, times["step"], strict=True))
            print(f"  {name:48s} {statistics.median(seconds) * 1000:7.2f} ms  = {shares[name]:6.1%} of a step")
    ours = shares["netbuilder (torch operations), every step"]
    verdict = "under" if ours < 0.10 else "OVER"
    print(f"netbuilder's augmentation with every step: {ours:.1%} of a training step ({verdict} the 10% target)")


def interleaved(works: dict, rounds: int) -> dict[str, list[float]]:
    """Each work's wall time in every round, the works taking turns within a round (drift hits all alike)."""
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(rounds):
        for name, work in works.items():
            start = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    main()
