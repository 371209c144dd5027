"""How late a 10 ms timer fires in the editor while a training run is live, against the same window idle.

    python bench/bench_gui_latency.py [--epochs N] [--runs R]     (offscreen unless a display is set)

Opens examples/mnist_convnet.json in the real main window, measures the timer for 3 s idle, then starts a
run on mnist-5k from the training panel and measures from the moment the Start click returns until the
run ends (plots, progress bar and status update all the while). Prints the largest and 99th-percentile
lateness of each, and how long the click took; target: largest < 50 ms while the run is live.
"""
import argparse
import os
import statistics
import sys
import time

from _common import EXAMPLES, steady_allocator

steady_allocator()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")

from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from netbuilder.ui.app import configure  # noqa: E402
from netbuilder.ui.main_window import MainWindow  # noqa: E402

INTERVAL_MS = 10


class Lateness:
    """Records how late each tick of a 10 ms timer is."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(self.timer.timerType().PreciseTimer)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.late = []
        self.clock.start()
        self.timer.start(INTERVAL_MS)

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        self.late.append(max(0.0, self.clock.nsecsElapsed() / 1e6 - INTERVAL_MS))
        self.clock.restart()

    def summary(self) -> tuple[float, float]:
        ordered = sorted(self.late)
        return ordered[-1], ordered[int(0.99 * (len(ordered) - 1))]


def run_for(app: QApplication, seconds: float, until=None) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or (until is not None and until()):
        app.processEvents()
        time.sleep(0.0005)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    configure(app)
    window = MainWindow(offer_recovery=False)
    window.show()
    window.open_path(EXAMPLES / "mnist_convnet.json", ask=False)
    from netbuilder.ui.document import torch_loader

    run_for(app, 0.5, until=lambda: not torch_loader().isFinished())  # startup warm-up done

    watch = Lateness()
    watch.start()
    run_for(app, 3.0)
    watch.stop()
    idle = watch.summary()

    panel = window.training
    panel.epochs.setValue(args.epochs)
    worst, p99, clicks = [], [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        panel.start()
        clicks.append((time.perf_counter() - started) * 1e3)
        watch.start()
        run_for(app, 0.5, until=lambda: panel.is_running)
        watch.stop()
        worst.append(watch.summary()[0])
        p99.append(watch.summary()[1])
    window.document.undo_stack.setClean()
    print(f"platform {app.platformName()}; {args.runs} runs of {args.epochs} epochs on mnist-5k ({panel.status.text()})")
    print(f"  the Start click itself (creates the run's curves, starts the thread): "
          f"median {statistics.median(clicks):.1f} ms")
    print(f"  idle window (3 s):  largest {idle[0]:6.1f} ms   99th percentile {idle[1]:5.1f} ms")
    print(f"  while training:     largest per run {', '.join(f'{w:.1f}' for w in worst)} ms; "
          f"99th percentile per run {', '.join(f'{p:.1f}' for p in p99)} ms")
    print(f"largest delay while training, median of {args.runs} runs: {statistics.median(worst):.1f} ms "
          f"(target < 50 ms); ratio to the idle window's largest: {statistics.median(worst) / max(idle[0], 0.1):.1f}")
    window.close()


if __name__ == "__main__":
    main()
