"""The graph made a torch module: compilation to a torch.fx GraphModule (`compile`) and weights put into it
and taken out of it, with the checks that guard weights files (`weights`).

May import `base`, `layers`, `model`, `data` and `checks`.
"""
