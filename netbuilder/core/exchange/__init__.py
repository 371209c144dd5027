"""Networks in and out of netbuilder: ONNX export and import, PyTorch code (`codegen`), the standalone
training script, and the guards and escaping that keep foreign files and generated code safe.

May import every room below it (`training` and down); never `inside`.
"""
