"""Training a built network: its settings (`config`), the loop (`trainer`), what it minimizes (`objective`),
checkpoints, background compilation, per-block statistics, multi-process runs (`distributed`), the memory
plan, a whole run from a graph and a dataset (`experiment`), the run store that keeps every run beside its
network (`runs/`), and sweeps: Optuna studies whose trials are runs (`sweep/`).

May import every room below it (`base`, `layers`, `model`, `data`, `checks`, `build`); never `exchange` or
`inside`.
"""
