"""What augmentation costs per training step: netbuilder's (torch operations: one sampling grid + grid_sample for all
geometric steps, nearest for masks) against kornia.augmentation doing the same steps, each as a ratio to a training
step of the lecture's convnet (examples/mnist_convnet.json, batch 100, eager, on the CPU) measured in this process.

    python bench/bench_augment.py [--batch 100] [--rounds 30] [--threads N]

Every step of the issue at once (flip, crop, translate, rotate, scale, brightness, contrast, noise, erase) on
1 x 28 x 28 images, and flip + rotate on fcn_shapes' images with their masks (one draw for both). Target: netbuilder's
augmentation under 10% of a convnet step on a CPU. kornia is measured when it is installed (pip install kornia).
"""
import argparse
import sys

from _common import EXAMPLES, median_seconds, steady_allocator

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
    parser.add_argument("--rounds", type=int, default=30)
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
    step = median_seconds(lambda: trainer._step(batch), args.rounds)
    ours = median_seconds(lambda: trainer.augmenting(batch, 1), args.rounds)
    rows = [("netbuilder (torch operations), every step", ours)]
    typical = Trainer(setup.model, setup.splits, TrainConfig(batch_size=args.batch, compile="off", augment=TYPICAL),
                      objective=setup.objective)
    rows.append(("netbuilder, " + " + ".join(TYPICAL), median_seconds(lambda: typical.augmenting(batch, 1), args.rounds)))

    shapes = prepare_training(Graph.load(EXAMPLES / "fcn_shapes.json"), "shapes:n=400")
    config = TrainConfig(batch_size=args.batch, compile="off", augment=["flip", "rotate=20"])
    seg = Trainer(shapes.model, shapes.splits, config, objective=shapes.objective)
    seg_batch = {k: v[:args.batch] for k, v in seg._tensors["train"].items()}
    rows.append(("netbuilder, flip + rotate, image and mask", median_seconds(lambda: seg.augmenting(seg_batch, 1), args.rounds)))
    try:
        import kornia  # noqa: F401
    except ImportError:
        print("kornia is not installed: pip install kornia (it needs kornia-rs, numpy, torch) to compare",
              file=sys.stderr)
    else:
        full = kornia_pipeline(False)
        x = batch["x"]
        rows.append(("kornia.augmentation, every step", median_seconds(lambda: full(x), args.rounds)))
        pair = kornia_pipeline(True)
        image, mask = seg_batch["x"], seg_batch["mask"][:, None].float()
        rows.append(("kornia, flip + rotate, image and mask", median_seconds(lambda: pair(image, mask), args.rounds)))
    print(f"a training step of mnist_convnet, batch {args.batch}, eager on {trainer.device}: {step * 1000:.2f} ms")
    for name, seconds in rows:
        print(f"  {name:48s} {seconds * 1000:7.2f} ms  = {seconds / step:6.1%} of a step")
    verdict = "under" if ours / step < 0.10 else "OVER"
    print(f"netbuilder's augmentation with every step: {ours / step:.1%} of a training step ({verdict} the 10% target)")


if __name__ == "__main__":
    main()
